/**
 * ClickHouse settings of every feature statement:
 * - `join_use_nulls = 1`: joins through the identity map rely on NULL for "no match";
 * - `optimize_move_to_prewhere_if_final = 1`: row filters (event names, a run's identifiers) are
 *   read before the other columns even when `events` is read with FINAL. Safe here because the
 *   copies of one message id carry the same type, names and identifiers;
 * - `max_insert_threads = 2`: a version's rows (values and states, a million profiles wide) are
 *   written by two threads, not one.
 */
export const FEATURE_QUERY_SETTINGS = 'SETTINGS join_use_nulls = 1, optimize_move_to_prewhere_if_final = 1, max_insert_threads = 2';
