/**
 * Segment's clock-skew correction: the device clock may be wrong, but the time between the call
 * (originalTimestamp) and the upload (sentAt) was measured on that same clock, so
 * timestamp = receivedAt - (sentAt - originalTimestamp). Without sentAt the client's timestamp is
 * kept (historical imports); without any timestamp the receive time is used.
 */
export function correctTimestamp(receivedAt: Date, originalTimestamp?: Date, sentAt?: Date): Date {
  if (!originalTimestamp) return receivedAt;
  if (!sentAt) return originalTimestamp;
  return new Date(receivedAt.getTime() - (sentAt.getTime() - originalTimestamp.getTime()));
}

/** ClickHouse DateTime64(3) text form, in UTC: `2026-01-02 03:04:05.678`. */
export function chDateTime(d: Date): string {
  return d.toISOString().slice(0, 23).replace('T', ' ');
}
