/** An error answered in the protocol's error envelope; `code` becomes the SDK exception name. */
export class Ec2Error extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly status = 400,
  ) {
    super(message);
    this.name = code;
  }
}
