#!/usr/bin/env node
/**
 * The `mmsim` command: run scenarios, show the state they leave, check them.
 * Exit codes: 0 all passed, 1 an expectation failed, 2 bad input (unreadable file or a
 * malformed scenario).
 */
import { Command, CommanderError } from 'commander';
import { readFileSync } from 'node:fs';
import { formatDiagnostic, type Diagnostic } from '../scenario/diagnostics.js';
import { checkScenario, problemReport, runScenario, type RunReport } from '../scenario/runner.js';
import { formatReport, reportJson, styleFor, tally } from './format.js';
import { formatState, stateJson } from './show.js';
import { compareRuns, formatComparison, runDesigns } from './compare.js';
import { atLine, collect, load, type Loaded } from './input.js';
import { OutputClosed, stdoutInfo, writeOut } from './output.js';

/** Exit status for bad input, distinct from a failed expectation. */
const EXIT_BAD_INPUT = 2;

class InputError extends Error {}

/** The package's version, from the package.json two folders above dist/src/cli. */
function packageVersion(): string {
  const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
  return pkg.version;
}

function write(text: string): void {
  writeOut(text.endsWith('\n') ? text : `${text}\n`);
}

/** A problem with a whole input, on standard error in the `mmsim: PATH: message` form of I/O errors. */
function reportInputProblem(d: Diagnostic): void {
  process.stderr.write(`mmsim: ${d.file}: ${d.message}\n`);
}

/** The scenarios named: each read in turn (one text in memory at a time), in order. */
function* scenarios(paths: readonly string[]): Generator<Loaded> {
  const entries = collect(paths, true);
  if (entries.length === 0) throw new InputError(`no .mms scenarios found in ${paths.join(', ')}`);
  for (const e of entries) yield load(e);
}

/** The one scenario `show` and `compare` take; a problem reading it is bad input. */
function single(path: string): { file: string; text: string } {
  const [entry] = collect([path], false);
  const r = load(entry);
  if (r.problem !== null) throw new InputError(`${r.file}: ${r.problem.message}`);
  return r;
}

/** Builds the command line interface; `main()` runs it. */
export function buildProgram(): Command {
  const program = new Command();
  program
    .name('mmsim')
    .description('Run, inspect and check mmsim scenarios: an executable model of kernel memory management.')
    .version(packageVersion(), '-V, --version', 'print the version of mmsim')
    .showHelpAfterError()
    .exitOverride();

  program
    .command('run')
    .description('run scenarios (files or directories of .mms files, or - for standard input) and check every expectation')
    .argument('<paths...>', 'scenario files or directories, or - for standard input')
    .option('--json', 'machine-readable output')
    .option('--trace', 'print the step-by-step event stream')
    .option('--no-color', 'never colour the output')
    .action((paths: string[], opts: { json?: boolean; trace?: boolean; color: boolean }) => {
      const style = styleFor(stdoutInfo, !opts.color);
      const trace = opts.trace === true;
      // Each report is printed (or turned into JSON) as soon as its scenario ran, so only one
      // machine is alive at a time: a directory of large scenarios stays within memory.
      const json: unknown[] = [];
      let count = 0;
      let unreadable = 0;
      let bad = 0;
      let failed = 0;
      let expectations = 0;
      let unmet = 0;
      for (const input of scenarios(paths)) {
        count++;
        let r: RunReport;
        if (input.problem !== null) {
          unreadable++;
          r = problemReport(input.file, [input.problem]);
          if (!opts.json) reportInputProblem(input.problem);
        } else {
          r = runScenario(input.text, input.file, { trace });
          if (r.diagnostics.length > 0) bad++;
          else if (!r.passed) failed++;
          const t = tally(r);
          expectations += t.checked;
          unmet += t.failed;
          if (!opts.json) write(`${formatReport(r, style, trace)}\n`);
        }
        if (opts.json) json.push(reportJson(r, trace));
      }
      if (opts.json) {
        write(JSON.stringify(json, null, 2));
      } else {
        const summary =
          `${count} scenario${count === 1 ? '' : 's'}: ${count - failed - bad - unreadable} passed, ${failed} failed, ${bad} malformed` +
          `${unreadable > 0 ? `, ${unreadable} unreadable` : ''}; ${expectations - unmet} of ${expectations} expectations met`;
        write(failed + bad + unreadable === 0 ? style.ok(summary) : style.bad(summary));
      }
      process.exitCode = bad + unreadable > 0 ? EXIT_BAD_INPUT : failed > 0 ? 1 : 0;
    });

  program
    .command('show')
    .description('run a scenario and show the state it leaves: maps, page tables, TLBs, counters')
    .argument('<file>', 'a scenario file, or - for standard input')
    .option('--at <line>', 'stop after the statements up to this line')
    .option('--json', 'machine-readable output')
    .option('--no-color', 'never colour the output')
    .action((path: string, opts: { at?: string; json?: boolean; color: boolean }) => {
      const { file, text } = single(path);
      let at: number | undefined;
      if (opts.at !== undefined) {
        const n = atLine(opts.at, text, file);
        if (typeof n === 'string') throw new InputError(n);
        at = n;
      }
      const r = runScenario(text, file, at === undefined ? {} : { stopAfterLine: at });
      const style = styleFor(stdoutInfo, !opts.color);
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
    .argument('<file>', 'a scenario file, or - for standard input')
    .requiredOption('--variant <name>', 'a variant to compare against (repeat for one run per variant; a+b runs both together)', (v: string, all: string[] | undefined) => [...(all ?? []), v])
    .option('--json', 'machine-readable output')
    .option('--no-color', 'never colour the output')
    .action((path: string, opts: { variant: string[]; json?: boolean; color: boolean }) => {
      const { file, text } = single(path);
      const designs = runDesigns(text, file, opts.variant);
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
      else write(formatComparison(file, designs, styleFor(stdoutInfo, !opts.color)));
      process.exitCode = 0;
    });

  program
    .command('check')
    .description('parse and validate scenarios without running them')
    .argument('<paths...>', 'scenario files or directories, or - for standard input')
    .option('--json', 'machine-readable output')
    .action((paths: string[], opts: { json?: boolean }) => {
      const json: unknown[] = [];
      let bad = 0;
      for (const input of scenarios(paths)) {
        const diagnostics = input.problem !== null ? [input.problem] : checkScenario(input.text, input.file);
        if (diagnostics.length > 0) bad++;
        if (opts.json) {
          json.push({ file: input.file, ok: diagnostics.length === 0, diagnostics: diagnostics.map((d) => ({ ...d, text: formatDiagnostic(d) })) });
        } else if (input.problem !== null) {
          reportInputProblem(input.problem);
        } else {
          if (diagnostics.length === 0) write(`${input.file}: ok`);
          for (const d of diagnostics) write(formatDiagnostic(d));
        }
      }
      if (opts.json) write(JSON.stringify(json, null, 2));
      process.exitCode = bad > 0 ? EXIT_BAD_INPUT : 0;
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
    if (e instanceof OutputClosed) {
      // The reader of standard output went away (`mmsim run … | head`): nothing more to say.
      process.exitCode = 0;
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
