/** ClickHouse settings of every feature statement: joins through the identity map rely on NULL for "no match". */
export const FEATURE_QUERY_SETTINGS = 'SETTINGS join_use_nulls = 1';
