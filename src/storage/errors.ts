/** Errors an appender reports for one sample; the rest of the batch is unaffected. */
export class SampleError extends Error {
  override readonly name: string = "SampleError";
}

/** The sample is older than the newest one of its series. */
export class OutOfOrderSampleError extends SampleError {
  override readonly name = "OutOfOrderSampleError";
}

/** A sample with the same timestamp but a different value is already stored. */
export class DuplicateSampleError extends SampleError {
  override readonly name = "DuplicateSampleError";
}

/** The sample is older than the retention window allows. */
export class OutOfBoundsSampleError extends SampleError {
  override readonly name = "OutOfBoundsSampleError";
}

export class InvalidTimestampError extends SampleError {
  override readonly name = "InvalidTimestampError";
}

/** The sample's value is not a number (a float64; NaN and ±Inf are numbers). */
export class InvalidValueError extends SampleError {
  override readonly name = "InvalidValueError";
}

export class InvalidSampleLabelsError extends SampleError {
  override readonly name = "InvalidSampleLabelsError";
}

/** The store could not do what was asked (I/O, full disk, closed store); nothing of the request was applied. */
export class StorageError extends Error {
  override readonly name: string = "StorageError";
}

/**
 * The store's disk (or its configured size cap) is full: the write was refused and nothing of it
 * was applied, while everything stored before stays readable. Writes succeed again once space is
 * freed, without a restart; callers answer 503 with Retry-After.
 */
export class DiskFullError extends StorageError {
  override readonly name = "DiskFullError";
}

/**
 * Whether an error (or what it wraps) is a full disk: SQLite's SQLITE_FULL, a wal-index (-shm)
 * that could not be sized (SQLITE_IOERR_SHMSIZE, what opening a WAL database on a full disk
 * reports), or the OS's ENOSPC.
 */
export function isDiskFullError(err: unknown): boolean {
  for (let e = err, depth = 0; e instanceof Error && depth < 5; e = e.cause, depth++) {
    if (e instanceof DiskFullError) return true;
    const code = (e as { code?: unknown }).code;
    if (code === "SQLITE_FULL" || code === "SQLITE_IOERR_SHMSIZE" || code === "ENOSPC") return true;
  }
  return false;
}
