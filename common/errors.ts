// The one base of the service's own errors. `statusCode` is what the
// dashboard's single error handler (dashboard/app.ts) answers with, the message
// going out as `{ error }`: so write messages a person can act on, and keep
// internals (paths, SQL, stack) out of them. Errors that never reach HTTP keep
// the default 500.
export class AppError extends Error {
  constructor(message: string, readonly statusCode = 500, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
