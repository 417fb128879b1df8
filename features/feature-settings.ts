/**
 * ClickHouse settings of every feature statement:
 * - `join_use_nulls = 1`: joins through the identity map rely on NULL for "no match";
 * - `optimize_move_to_prewhere_if_final = 1`: row filters (event names, a run's identifiers) are
 *   read before the other columns even when `events` is read with FINAL. Safe here because the
 *   copies of one message id carry the same type, names and identifiers;
 * - `max_insert_threads = 2`: a version's rows (values and states, a million profiles wide) are
 *   written by two threads, not one;
 * - `compile_expressions = 0, compile_aggregate_expressions = 0`: no JIT. Every run's expressions
 *   hold its own times (window edges, as-of), so ClickHouse's cache of compiled code never hits and
 *   each run paid LLVM for code used once: 0.05-0.1 s per statement of an incremental run, and the
 *   full run was no faster with it.
 */
export const FEATURE_QUERY_SETTINGS =
  'SETTINGS join_use_nulls = 1, optimize_move_to_prewhere_if_final = 1, max_insert_threads = 2, compile_expressions = 0, compile_aggregate_expressions = 0';
