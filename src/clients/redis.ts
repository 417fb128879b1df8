import { Redis } from 'ioredis';

export function openRedis(url: string, keyPrefix?: string): Redis {
  // maxRetriesPerRequest: null is what BullMQ requires of its connections.
  return new Redis(url, { keyPrefix, maxRetriesPerRequest: null, lazyConnect: false });
}

export type { Redis };
