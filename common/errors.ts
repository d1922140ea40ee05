// The one base of the service's own errors. `statusCode` is what the
// dashboard's single error handler (dashboard/app.ts) answers with, the message
// going out as `{ error }`: so write messages a person can act on, and keep
// internals (paths, SQL, stack) out of them. Errors that never reach HTTP keep
// the default 500.
import type { ZodError } from 'zod';

/** A zod error as one line a person can act on: `field.path: message; …` (`root` names a whole-value issue). */
export const issuesText = (e: ZodError, root = 'body') => e.issues.map((i) => `${i.path.join('.') || root}: ${i.message}`).join('; ');

export class AppError extends Error {
  constructor(message: string, readonly statusCode = 500, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}
