/**
 * The typed event stream of what the machine did, step by step. It is built only when a
 * tracer is installed (`mmu.tracer`), so the hot paths pay one null check. The same
 * events feed the trace printer, golden tests and, later, the visualizer.
 */
export type TraceEvent =
  | { readonly type: 'tlb.miss'; readonly cpu: number; readonly va: number }
  | { readonly type: 'page-fault'; readonly cpu: number; readonly va: number; readonly errorCode: number }
  | { readonly type: 'tlb.flush'; readonly cpu: number; readonly pcid: number; readonly va: number; readonly pages: number | 'all' }
  | { readonly type: 'ipi'; readonly from: number | null; readonly to: number }
  | { readonly type: 'fault.resolved'; readonly tid: number; readonly va: number; readonly how: string }
  | { readonly type: 'op'; readonly thread: string; readonly line: number; readonly text: string; readonly result: string }
  | { readonly type: 'step'; readonly thread: string; readonly kind: string; readonly what: string };

/** Receives trace events. */
export type Tracer = (event: TraceEvent) => void;
