/** Every error bindsnoop reports to a user carries a code and the exit status it ends with. */
export type ErrorCode =
  | 'USAGE'          // bad flags or flag values: exit 2
  | 'CONFIG'         // bad configuration: exit 2
  | 'KERNEL'         // the kernel refused (permissions, BTF, tracefs, verifier): exit 1
  | 'RUNTIME';       // anything else that stops the agent: exit 1

export class BindsnoopError extends Error {
  readonly code: ErrorCode;
  readonly exitStatus: number;
  /** errno name from the kernel side (EPERM, ENOENT, ...), when there is one */
  readonly errnoCode?: string;

  constructor(code: ErrorCode, message: string, errnoCode?: string) {
    super(message);
    this.name = 'BindsnoopError';
    this.code = code;
    this.exitStatus = code === 'USAGE' || code === 'CONFIG' ? 2 : 1;
    this.errnoCode = errnoCode;
  }
}

export function usageError(message: string): BindsnoopError {
  return new BindsnoopError('USAGE', message);
}
