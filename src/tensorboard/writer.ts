/**
 * A TensorBoard event file writer in the manner of PyTorch's
 * `torch.utils.tensorboard.SummaryWriter`, without TensorFlow: Event
 * protobufs in TFRecord framing (length, masked CRC-32C of the length,
 * payload, masked CRC-32C of the payload), appended one whole record per
 * write, so a crash loses at most the record being written (TensorBoard
 * stops reading at a record cut short). A writer always starts a new file;
 * TensorBoard joins the files of one folder into one run.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

import { NRNMError } from '../errors';
import { ioError } from '../io/atomic-write';
import { maskedCrc32c } from './crc32c';
import { DT_STRING, Event, SESSION_START } from './proto';

let files = 0;

/** One TFRecord: u64 length, u32 masked CRC of it, the data, u32 masked CRC of the data (all little endian). */
export function tfRecord(data: Uint8Array): Buffer {
  const record = Buffer.alloc(12 + data.length + 4);
  record.writeBigUInt64LE(BigInt(data.length), 0);
  record.writeUInt32LE(maskedCrc32c(record.subarray(0, 8)), 8);
  record.set(data, 12);
  record.writeUInt32LE(maskedCrc32c(data), 12 + data.length);
  return record;
}

export class SummaryWriter {
  /** The event file: `<logDir>/events.out.tfevents.<seconds>.<host>.<pid>.<n>`, as PyTorch names it. */
  readonly file: string;
  #fd: number | undefined;
  #size = 0;

  constructor(readonly logDir: string) {
    if (typeof logDir !== 'string' || logDir === '') throw new NRNMError('SummaryWriter needs a log folder (a non-empty string)', 'ERR_ARG');
    const seconds = String(Math.floor(Date.now() / 1000)).padStart(10, '0');
    this.file = path.join(path.resolve(logDir), `events.out.tfevents.${seconds}.${os.hostname()}.${process.pid}.${files++}`);
    try {
      fs.mkdirSync(path.dirname(this.file), { recursive: true });
      this.#fd = fs.openSync(this.file, 'wx');
    } catch (err) {
      throw ioError(this.file, 'create', err);
    }
    this.#write({ wallTime: Date.now() / 1000, step: 0, fileVersion: 'brain.Event:2' });
  }

  /** A scalar: TensorBoard's Scalars tab (`EventAccumulator.Scalars(tag)`). */
  addScalar(tag: string, value: number, step: number, wallTime = Date.now() / 1000): void {
    this.#write({ wallTime, step, summary: { value: [{ tag: checkTag(tag), simpleValue: value }] } });
  }

  /** Text (markdown) under `<tag>/text_summary`, as PyTorch's add_text: TensorBoard's Text tab. */
  addText(tag: string, text: string, step: number, wallTime = Date.now() / 1000): void {
    const tensor = { dtype: DT_STRING, tensorShape: { dim: [{ size: 1 }] }, stringVal: [Buffer.from(text, 'utf8')] };
    const value = { tag: `${checkTag(tag)}/text_summary`, tensor, metadata: { pluginData: { pluginName: 'text' } } };
    this.#write({ wallTime, step, summary: { value: [value] } });
  }

  /**
   * Marks a restart at `step` (a resumed run): TensorBoard drops what
   * earlier files logged at this step and after, which the resumed run logs
   * again, so each curve stays one line.
   */
  addSessionStart(step: number, wallTime = Date.now() / 1000): void {
    this.#write({ wallTime, step, sessionLog: { status: SESSION_START } });
  }

  /** Forces what is written to disk. */
  flush(): void {
    if (this.#fd === undefined) return;
    try {
      fs.fsyncSync(this.#fd);
    } catch (err) {
      throw ioError(this.file, 'write', err);
    }
  }

  /** Flushes and closes the file. Idempotent. */
  close(): void {
    if (this.#fd === undefined) return;
    try {
      this.flush();
    } finally {
      fs.closeSync(this.#fd);
      this.#fd = undefined;
    }
  }

  #write(event: Record<string, unknown>): void {
    if (this.#fd === undefined) throw new NRNMError(`SummaryWriter for ${this.file} is closed`, 'ERR_DISPOSED');
    const record = tfRecord(Event.encode(Event.fromObject(event)).finish());
    try {
      for (let done = 0; done < record.length;) {
        const n = fs.writeSync(this.#fd, record, done, record.length - done, this.#size + done);
        if (n <= 0) throw new Error('write made no progress');
        done += n;
      }
      this.#size += record.length;
    } catch (err) {
      // Cut a partial record back off, so the file stays readable to its end.
      try {
        fs.ftruncateSync(this.#fd, this.#size);
      } catch {
        // The write error below is the one to report.
      }
      throw ioError(this.file, 'write', err);
    }
  }
}

function checkTag(tag: string): string {
  if (typeof tag !== 'string' || tag === '') throw new NRNMError(`A TensorBoard tag must be a non-empty string (got ${JSON.stringify(tag)})`, 'ERR_ARG');
  return tag;
}
