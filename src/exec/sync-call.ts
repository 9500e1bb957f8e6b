/**
 * A blocking call from a worker thread to the thread that owns the store. The PromQL engine pulls
 * series synchronously (storage/interface.ts), so a worker running it cannot await a reply:
 * it posts the request, sleeps on a shared cell with Atomics.wait, and takes the reply off its
 * port with receiveMessageOnPort once the owner has posted it and written the call's number into
 * the cell. Only the worker blocks; the owner answers from its event loop like any other message.
 *
 * Every call has a number, echoed by its answer and written to the cell: a wake-up is trusted only
 * when the cell holds this call's number, and a reply only when it carries it. A bare "answered"
 * flag is not enough: the owner's notify for one call can land after the worker has already taken
 * that reply and gone to sleep on the next call, and a worker woken that way would read the next
 * reply as missing — and then take every later reply one call late, pages of another selection
 * or another job among them.
 */
import { type MessagePort, receiveMessageOnPort, type TransferListItem } from "node:worker_threads";

interface Numbered<T> {
  readonly call: number;
  readonly body: T;
}

/** Call numbers stay positive int32s, so they fit the shared cell; 0 is "nothing answered yet". */
const MAX_CALL = 0x7fff_ffff;

/** The worker's end. */
export class SyncCaller<Req, Res> {
  private last = 0;

  constructor(
    private readonly port: MessagePort,
    private readonly cell: Int32Array,
  ) {}

  call(request: Req): Res {
    this.last = this.last === MAX_CALL ? 1 : this.last + 1;
    const call = this.last;
    const numbered: Numbered<Req> = { call, body: request };
    this.port.postMessage(numbered);
    // The owner may be busy for a while; waiting in slices keeps the thread killable and lets a
    // stuck owner show up in a profile as waiting rather than spinning.
    for (let seen = Atomics.load(this.cell, 0); seen !== call; seen = Atomics.load(this.cell, 0)) {
      Atomics.wait(this.cell, 0, seen, 1000);
    }
    for (let m = receiveMessageOnPort(this.port); m !== undefined; m = receiveMessageOnPort(this.port)) {
      const answer = m.message as Numbered<Res>;
      if (answer.call === call) return answer.body;
      // An answer to an earlier call: never taken, since each call waits for its own number.
    }
    throw new Error(`sync call ${call}: answered, but its reply is not on the port`);
  }
}

export interface SyncAnswer<Res> {
  reply: Res;
  transfer?: readonly TransferListItem[];
}

/** The owner's end: answers each request with `handler`, which must not throw. */
export function serveSyncCalls<Req, Res>(
  port: MessagePort,
  cell: Int32Array,
  handler: (request: Req) => SyncAnswer<Res>,
): void {
  port.on("message", (numbered: Numbered<Req>) => {
    const { reply, transfer } = handler(numbered.body);
    const answer: Numbered<Res> = { call: numbered.call, body: reply };
    // The reply is on the port before the cell says so: the worker reads the port only after.
    port.postMessage(answer, transfer);
    Atomics.store(cell, 0, numbered.call);
    Atomics.notify(cell, 0);
  });
}
