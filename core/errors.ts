/**
 * The one base of every error whose message is written for the user (a bad option, file, plan, shape or a
 * missing driver), and the process exit codes. The command line catches {@link UserError} once and prints its
 * message; anything else that escapes is a bug in tessera and is reported as one.
 */

/** Process exit codes, documented in the README. */
export const EXIT = { ok: 0, input: 1, usage: 2, verify: 3, internal: 70 } as const;

/** An exit code of {@link EXIT}. */
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/**
 * An error the user can act on: its message names what is wrong and where. Subclasses say which kind
 * (`TensorError`, `SafetensorsError`, `LayerPlanError`, ...) and keep the fields tests and tools match on.
 */
export class UserError extends Error {
  /** The exit code the command line ends with. */
  readonly exitCode: ExitCode = EXIT.input;

  constructor(message: string) {
    super(message);
    // The subclass's own name (`TensorError`, ...), so `String(error)` and stack traces say which kind it is.
    this.name = new.target.name;
  }
}

/** A command-line or API option with a bad value; the message says which option and what is accepted. */
export class OptionError extends UserError {}
