/**
 * A blocking call from a worker thread to the thread that owns the store. The PromQL engine pulls
 * series synchronously (storage/interface.ts), so a worker running it cannot await a reply:
 * it posts the request, sleeps on a shared flag with Atomics.wait, and takes the reply off its
 * port with receiveMessageOnPort once the owner has posted it and raised the flag. Only the
 * worker blocks; the owner answers from its event loop like any other message.
 */
import { type MessagePort, receiveMessageOnPort, type TransferListItem } from "node:worker_threads";

const PENDING = 0;
const ANSWERED = 1;

/** The worker's end. */
export class SyncCaller<Req, Res> {
  constructor(
    private readonly port: MessagePort,
    private readonly flag: Int32Array,
  ) {}

  call(request: Req): Res {
    Atomics.store(this.flag, 0, PENDING);
    this.port.postMessage(request);
    // The owner may be busy for a while; waiting in slices keeps the thread killable and lets a
    // stuck owner show up in a profile as waiting rather than spinning.
    while (Atomics.wait(this.flag, 0, PENDING, 1000) === "timed-out") {
      /* keep waiting: the owner ends this worker if it gives up on the query */
    }
    const reply = receiveMessageOnPort(this.port);
    if (reply === undefined) throw new Error("sync call: the flag was raised but no reply was posted");
    return reply.message as Res;
  }
}

export interface SyncAnswer<Res> {
  reply: Res;
  transfer?: readonly TransferListItem[];
}

/** The owner's end: answers each request with `handler`, which must not throw. */
export function serveSyncCalls<Req, Res>(
  port: MessagePort,
  flag: Int32Array,
  handler: (request: Req) => SyncAnswer<Res>,
): void {
  port.on("message", (request: Req) => {
    const { reply, transfer } = handler(request);
    port.postMessage(reply, transfer);
    Atomics.store(flag, 0, ANSWERED);
    Atomics.notify(flag, 0);
  });
}
