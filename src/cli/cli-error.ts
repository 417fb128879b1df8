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
