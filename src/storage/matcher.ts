/**
 * Label matchers with Prometheus's semantics: regexes are fully anchored and `.` matches newlines
 * (Prometheus compiles `^(?s:RE)$`), a missing label reads as the empty string.
 *
 * Prometheus regexes are RE2: `re2.ts` validates them with a port of Go's parser (rejecting what
 * RE2 rejects, with Go's messages) and matches them with re2js, in time linear in the label value
 * whatever the pattern (no backtracking: `(.*){70}x` or `(a+)+b` cannot stall a query).
 */

import { compileRe2, type Re2Regex } from "./re2.js";

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

/**
 * Compiles a Prometheus (RE2) regex into an anchored predicate, with fast paths for literals and
 * literal sets here, and for prefix / suffix / substring shapes (`foo.*`, `.*foo.*`) in re2.ts.
 */
function compileRegex(source: string): (s: string) => boolean {
  if (!REGEX_META.test(source)) return (s) => s === source;
  const alternatives = source.split("|");
  if (alternatives.length > 1 && alternatives.every((a) => !REGEX_META.test(a))) {
    const set = new Set(alternatives);
    return (s) => set.has(s);
  }
  let re: Re2Regex;
  try {
    re = compileRe2(source);
  } catch (err) {
    const message = (err as Error).message;
    throw new InvalidMatcherError(
      message.startsWith("error parsing regexp")
        ? message
        : `error parsing regexp ${JSON.stringify(source)}: ${message}`,
    );
  }
  return re.test;
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
