/**
 * Label matchers with Prometheus's semantics: regexes are fully anchored and `.` matches newlines
 * (Prometheus compiles `^(?s:RE)$`), a missing label reads as the empty string.
 *
 * Prometheus regexes are RE2; `re2.ts` translates them into equivalent JavaScript patterns (flag
 * groups, case folding, POSIX and Unicode classes, …) and rejects what RE2 rejects, with Go's
 * messages.
 */

import { translateRe2 } from "./re2.js";

export const MatchType = {
  Equal: "=",
  NotEqual: "!=",
  Regexp: "=~",
  NotRegexp: "!~",
} as const;
export type MatchType = (typeof MatchType)[keyof typeof MatchType];

export class InvalidMatcherError extends Error {
  override readonly name = "InvalidMatcherError";
}

const REGEX_META = /[\\^$.|?*+()[\]{}]/;

/** Compiles a Prometheus (RE2) regex into an anchored JS predicate, with fast paths for literal sets. */
function compileRegex(source: string): (s: string) => boolean {
  if (!REGEX_META.test(source)) return (s) => s === source;
  const alternatives = source.split("|");
  if (alternatives.length > 1 && alternatives.every((a) => !REGEX_META.test(a))) {
    const set = new Set(alternatives);
    return (s) => set.has(s);
  }
  let re: RegExp;
  try {
    const { source: body, flags } = translateRe2(source);
    re = new RegExp(`^(?:${body})$`, flags);
  } catch (err) {
    const message = (err as Error).message;
    throw new InvalidMatcherError(
      message.startsWith("error parsing regexp")
        ? message
        : `error parsing regexp ${JSON.stringify(source)}: ${message}`,
    );
  }
  return (s) => re.test(s);
}

export class Matcher {
  readonly type: MatchType;
  readonly name: string;
  readonly value: string;
  private readonly regex: ((s: string) => boolean) | undefined;

  constructor(type: MatchType, name: string, value: string) {
    this.type = type;
    this.name = name;
    this.value = value;
    if (type === MatchType.Regexp || type === MatchType.NotRegexp) this.regex = compileRegex(value);
    else if (type !== MatchType.Equal && type !== MatchType.NotEqual) {
      throw new InvalidMatcherError(`unknown match type ${JSON.stringify(type)}`);
    }
  }

  static eq(name: string, value: string): Matcher {
    return new Matcher(MatchType.Equal, name, value);
  }

  matches(s: string): boolean {
    switch (this.type) {
      case MatchType.Equal:
        return s === this.value;
      case MatchType.NotEqual:
        return s !== this.value;
      case MatchType.Regexp:
        return this.regex!(s);
      case MatchType.NotRegexp:
        return !this.regex!(s);
    }
  }

  /** Whether a series without this label (value "") is selected. */
  matchesEmpty(): boolean {
    return this.matches("");
  }

  toString(): string {
    return `${this.name}${this.type}${JSON.stringify(this.value)}`;
  }
}
