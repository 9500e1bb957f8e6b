/** Operations on postings lists: strictly increasing arrays of series ids. */

export type Postings = readonly number[];

export function intersect(a: Postings, b: Postings): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const x = a[i];
    const y = b[j];
    if (x === y) {
      out.push(x);
      i++;
      j++;
    } else if (x < y) i++;
    else j++;
  }
  return out;
}

/** a minus b. */
export function subtract(a: Postings, b: Postings): number[] {
  const out: number[] = [];
  let j = 0;
  for (let i = 0; i < a.length; i++) {
    const x = a[i];
    while (j < b.length && b[j] < x) j++;
    if (j >= b.length || b[j] !== x) out.push(x);
  }
  return out;
}

/** Union of several lists. */
export function merge(lists: readonly Postings[]): number[] {
  if (lists.length === 0) return [];
  if (lists.length === 1) return lists[0].slice();
  if (lists.length === 2) {
    const [a, b] = lists;
    const out: number[] = [];
    let i = 0;
    let j = 0;
    while (i < a.length || j < b.length) {
      if (j >= b.length || (i < a.length && a[i] < b[j])) out.push(a[i++]);
      else if (i >= a.length || b[j] < a[i]) out.push(b[j++]);
      else {
        out.push(a[i++]);
        j++;
      }
    }
    return out;
  }
  const all: number[] = [];
  for (const l of lists) for (const x of l) all.push(x);
  all.sort((x, y) => x - y);
  const out: number[] = [];
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) out.push(all[i]);
  return out;
}

/** Where id is, or would go, in a sorted list: the first index whose id is not below it. */
function lowerBound(list: readonly number[], id: number): number {
  let lo = 0;
  let hi = list.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (list[mid] < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** Adds id to a sorted list in place; no-op when present. New series come last, so try the end first. */
export function addId(list: number[], id: number): void {
  if (list.length === 0 || id > list[list.length - 1]) {
    list.push(id);
    return;
  }
  const at = lowerBound(list, id);
  if (list[at] !== id) list.splice(at, 0, id);
}

/** Removes id from a sorted list in place; no-op when absent. */
export function removeId(list: number[], id: number): void {
  const at = lowerBound(list, id);
  if (at < list.length && list[at] === id) list.splice(at, 1);
}
