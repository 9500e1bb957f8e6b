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

export class InvalidSampleLabelsError extends SampleError {
  override readonly name = "InvalidSampleLabelsError";
}

/** The store could not do what was asked (I/O, full disk, closed store); nothing of the request was applied. */
export class StorageError extends Error {
  override readonly name = "StorageError";
}
