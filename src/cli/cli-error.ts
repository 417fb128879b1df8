/** A CLI failure the user can act on: what went wrong and what to do about it. */
export class CliError extends Error {
  constructor(
    message: string,
    public readonly hint?: string,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** A commander option parser for whole numbers in a range, with a message naming the option. */
export function intOption(name: string, min: number, max = Number.MAX_SAFE_INTEGER): (value: string) => number {
  return (value) => {
    const n = Number(value);
    if (!Number.isInteger(n) || n < min || n > max) throw new CliError(`${name} must be a whole number from ${min} to ${max} (got '${value}')`);
    return n;
  };
}
