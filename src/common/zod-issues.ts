import type { z } from 'zod';

/**
 * A zod error as one line: `path: message; path: message`. An issue at the root has no path;
 * `rootLabel` names it when a bare message would be unclear (e.g. `(root)` in config files).
 */
export function formatZodIssues(error: z.ZodError, rootLabel?: string): string {
  return error.issues
    .map((i) => {
      const at = i.path.length ? i.path.join('.') : rootLabel;
      return at ? `${at}: ${i.message}` : i.message;
    })
    .join('; ');
}
