/**
 * Segment's clock-skew correction: the device clock may be wrong, but the time between the call
 * (originalTimestamp) and the upload (sentAt) was measured on that same clock, so
 * timestamp = receivedAt - (sentAt - originalTimestamp). Without sentAt the client's timestamp is
 * kept (historical imports); without any timestamp the receive time is used. All in epoch ms.
 */
export function correctTimestamp(receivedAt: number, originalTimestamp?: number, sentAt?: number): number {
  if (originalTimestamp === undefined) return receivedAt;
  if (sentAt === undefined) return originalTimestamp;
  return receivedAt - (sentAt - originalTimestamp);
}
