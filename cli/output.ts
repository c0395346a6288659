/** Where a command writes: progress notes, and one result (text, or JSON with --json). */
export interface Output {
  readonly json: boolean;
  /** A progress line: stdout for people; stderr under --json so stdout stays one JSON document. */
  note(line: string): void;
  /** A caveat about the result: always stderr, so a result captured with `$(...)` stays clean. */
  warn(line: string): void;
  /** The command's result: `value` as JSON under --json, else `text` when given. */
  result(value: unknown, text?: string): void;
}

/** JSON that survives bigint values (LSN arithmetic) as decimal strings. */
export function toJson(value: unknown): string {
  return JSON.stringify(value, (_k, v) => (typeof v === 'bigint' ? v.toString() : v), 2);
}

/** The process's output, or any pair of writers (tests). */
export function makeOutput(
  json: boolean,
  stdout: (s: string) => void = (s) => process.stdout.write(s),
  stderr: (s: string) => void = (s) => process.stderr.write(s),
): Output {
  return {
    json,
    note: (line) => (json ? stderr : stdout)(`${line}\n`),
    warn: (line) => stderr(`${line}\n`),
    result: (value, text) => {
      if (json) stdout(`${toJson(value)}\n`);
      else if (text !== undefined) stdout(`${text}\n`);
    },
  };
}
