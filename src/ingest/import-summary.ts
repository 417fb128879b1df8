/** What a file import reports (`tessera import events`, `tessera import crm`): counts and bad lines. */
export interface LineRejection {
  line: number;
  code: string;
  message: string;
}

export interface ImportSummary {
  file: string;
  lines: number;
  accepted: number;
  rejected: number;
  rejectedByCode: Record<string, number>;
  /** The first `maxReported` rejections; all of them are in `rejected_events`. */
  rejections: LineRejection[];
  seconds: number;
}

export interface ImportOptions {
  maxReported?: number;
  onProgress?: (bytesRead: number, totalBytes: number, summary: ImportSummary) => void;
}

/** Counts an import as it goes; `done` stamps the time taken. */
export class ImportTally {
  readonly summary: ImportSummary;
  private readonly started = Date.now();
  private readonly maxReported: number;

  constructor(file: string, opts: ImportOptions = {}) {
    this.summary = { file, lines: 0, accepted: 0, rejected: 0, rejectedByCode: {}, rejections: [], seconds: 0 };
    this.maxReported = opts.maxReported ?? 1000;
  }

  reject(r: LineRejection): void {
    const s = this.summary;
    s.rejected++;
    s.rejectedByCode[r.code] = (s.rejectedByCode[r.code] ?? 0) + 1;
    if (s.rejections.length < this.maxReported) s.rejections.push(r);
  }

  done(): ImportSummary {
    this.summary.seconds = (Date.now() - this.started) / 1000;
    return this.summary;
  }
}
