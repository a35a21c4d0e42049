#!/usr/bin/env node
/**
 * The `mmsim` command: run scenarios, show the state they leave, check them.
 * Exit codes: 0 all passed, 1 an expectation failed, 2 bad input (unreadable file or a
 * malformed scenario).
 */
import { Command, CommanderError } from 'commander';
import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { formatDiagnostic } from '../scenario/diagnostics.js';
import { checkScenario, runScenario } from '../scenario/runner.js';
import { formatReport, reportJson, styleFor, tally } from './format.js';
import { formatState, stateJson } from './show.js';
import { compareRuns, formatComparison, runDesigns } from './compare.js';

/** Exit status for bad input, distinct from a failed expectation. */
const EXIT_BAD_INPUT = 2;

class InputError extends Error {}

/**
 * Every `.mms` file named, directories searched recursively, in a stable order. A path
 * named on the command line is taken whatever its name; in a directory only `.mms` files
 * are. A directory reached twice (a symlink loop) is searched once. No scenario at all is
 * bad input.
 */
function collect(paths: readonly string[]): string[] {
  const files: string[] = [];
  const seen = new Set<string>();
  const walk = (p: string, named: boolean): void => {
    let st;
    try {
      st = statSync(p);
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new InputError(code === 'ENOENT' ? `${p}: no such file or directory` : `${p}: cannot read (${code ?? 'error'})`);
    }
    if (st.isDirectory()) {
      const real = realpathSync(p);
      if (seen.has(real)) return;
      seen.add(real);
      let entries: string[];
      try {
        entries = readdirSync(p).sort();
      } catch (e) {
        throw new InputError(`${p}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      for (const entry of entries) walk(join(p, entry), false);
    } else if (named || p.endsWith('.mms')) {
      files.push(p);
    }
  };
  for (const p of paths) walk(p, true);
  if (files.length === 0) throw new InputError(`no .mms scenarios found in ${paths.join(', ')}`);
  return files;
}

function read(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    throw new InputError(`${file}: cannot read (${(e as NodeJS.ErrnoException).code ?? 'error'})`);
  }
}

function write(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Builds the command line interface; `main()` runs it. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mmsim')
    .description('Run, inspect and check mmsim scenarios: an executable model of kernel memory management.')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run scenarios (files or directories of .mms files) and check every expectation')
    .argument('<paths...>', 'scenario files or directories')
    .option('--json', 'machine-readable output')
    .option('--trace', 'print the step-by-step event stream')
    .option('--no-color', 'never colour the output')
    .action((paths: string[], opts: { json?: boolean; trace?: boolean; color: boolean }) => {
      const files = collect(paths);
      const style = styleFor(process.stdout, !opts.color);
      const trace = opts.trace === true;
      // Each report is printed (or turned into JSON) as soon as its scenario ran, so only one
      // machine is alive at a time: a directory of large scenarios stays within memory.
      const json: unknown[] = [];
      let bad = 0;
      let failed = 0;
      let expectations = 0;
      let unmet = 0;
      for (const f of files) {
        const r = runScenario(read(f), f, { trace });
        if (r.diagnostics.length > 0) bad++;
        else if (!r.passed) failed++;
        const t = tally(r);
        expectations += t.checked;
        unmet += t.failed;
        if (opts.json) json.push(reportJson(r, trace));
        else write(`${formatReport(r, style, trace)}\n`);
      }
      if (opts.json) {
        write(JSON.stringify(json, null, 2));
      } else {
        const summary = `${files.length} scenario${files.length === 1 ? '' : 's'}: ${files.length - failed - bad} passed, ${failed} failed, ${bad} malformed; ${expectations - unmet} of ${expectations} expectations met`;
        write(failed + bad === 0 ? style.ok(summary) : style.bad(summary));
      }
      process.exitCode = bad > 0 ? EXIT_BAD_INPUT : failed > 0 ? 1 : 0;
    });

  program
    .command('show')
    .description('run a scenario and show the state it leaves: maps, page tables, TLBs, counters')
    .argument('<file>', 'a scenario file')
    .option('--at <line>', 'stop after the statements up to this line')
    .option('--json', 'machine-readable output')
    .option('--no-color', 'never colour the output')
    .action((file: string, opts: { at?: string; json?: boolean; color: boolean }) => {
      let at: number | undefined;
      if (opts.at !== undefined) {
        at = Number(opts.at);
        if (!Number.isInteger(at) || at < 1) throw new InputError(`--at takes a line number, not '${opts.at}'`);
      }
      const r = runScenario(read(file), file, at === undefined ? {} : { stopAfterLine: at });
      const style = styleFor(process.stdout, !opts.color);
      if (r.diagnostics.length > 0) {
        for (const d of r.diagnostics) process.stderr.write(`${formatDiagnostic(d)}\n`);
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      if (opts.json) write(JSON.stringify({ report: reportJson(r, false), state: stateJson(r) }, null, 2));
      else write(`${formatReport(r, style, false)}\n${formatState(r, style)}`);
      process.exitCode = r.passed ? 0 : 1;
    });

  program
    .command('compare')
    .description('run one scenario as written and again with design variants switched on, and show the lines where the designs differ')
    .argument('<file>', 'a scenario file')
    .requiredOption('--variant <name>', 'a variant to compare against (repeat for one run per variant; a+b runs both together)', (v: string, all: string[] | undefined) => [...(all ?? []), v])
    .option('--json', 'machine-readable output')
    .option('--no-color', 'never colour the output')
    .action((file: string, opts: { variant: string[]; json?: boolean; color: boolean }) => {
      const designs = runDesigns(read(file), file, opts.variant);
      const malformed = designs.filter((d) => d.report.diagnostics.length > 0);
      if (malformed.length > 0) {
        const seen = new Set<string>();
        for (const d of malformed) {
          for (const diag of d.report.diagnostics) {
            const t = formatDiagnostic(diag);
            if (!seen.has(t)) process.stderr.write(`${t}\n`);
            seen.add(t);
          }
        }
        process.exitCode = EXIT_BAD_INPUT;
        return;
      }
      // A variant already on the machine line changes nothing: say so rather than show identical runs.
      const asWritten = designs[0].report.machine?.kernel.config.variants;
      for (const v of opts.variant) {
        if (v.split('+').every((x) => asWritten?.has(x))) process.stderr.write(`mmsim: variant ${v} is already on the machine line of ${file}; that run is the same as written\n`);
      }
      if (opts.json) write(JSON.stringify({ file, designs: designs.map((d) => d.label), rows: compareRuns(designs) }, null, 2));
      else write(formatComparison(file, designs, styleFor(process.stdout, !opts.color)));
      process.exitCode = 0;
    });

  program
    .command('check')
    .description('parse and validate scenarios without running them')
    .argument('<paths...>', 'scenario files or directories')
    .option('--json', 'machine-readable output')
    .action((paths: string[], opts: { json?: boolean }) => {
      const files = collect(paths);
      const results = files.map((f) => ({ file: f, diagnostics: checkScenario(read(f), f) }));
      if (opts.json) write(JSON.stringify(results.map((r) => ({ file: r.file, ok: r.diagnostics.length === 0, diagnostics: r.diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })) })), null, 2));
      else {
        for (const r of results) {
          if (r.diagnostics.length === 0) write(`${r.file}: ok`);
          for (const d of r.diagnostics) write(formatDiagnostic(d));
        }
      }
      process.exitCode = results.some((r) => r.diagnostics.length > 0) ? EXIT_BAD_INPUT : 0;
    });
  return program;
}

/** Runs the command line; user errors print one line and exit 2, never a stack trace. */
export function main(argv: readonly string[]): void {
  const program = buildProgram();
  try {
    program.parse(argv);
  } catch (e) {
    if (e instanceof CommanderError) {
      // --help and --version exit 0; usage errors were already printed by commander.
      process.exitCode = e.exitCode === 0 ? 0 : EXIT_BAD_INPUT;
      return;
    }
    if (e instanceof InputError) {
      process.stderr.write(`mmsim: ${e.message}\n`);
      process.exitCode = EXIT_BAD_INPUT;
      return;
    }
    throw e;
  }
}

main(process.argv);
