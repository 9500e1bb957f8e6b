/**
 * Label matchers with Prometheus's semantics: regexes are fully anchored and `.` matches newlines
 * (Prometheus compiles `^(?s:RE)$`), a missing label reads as the empty string.
 *
 * Prometheus regexes are RE2. JavaScript's RegExp agrees on the syntax PromQL users write; the
 * differences handled here are RE2's leading flag groups (`(?i)`, `(?s)`, `(?m)`, `(?U)` is refused),
 * which JS only takes as flags. Patterns JS cannot compile are rejected with the regex's error.
 */

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

const LEADING_FLAGS = /^\(\?([imsU]+)\)/;
const REGEX_META = /[\\^$.|?*+()[\]{}]/;

/** Compiles a Prometheus regex into an anchored JS predicate, with fast paths for literals and literal sets. */
function compileRegex(source: string): (s: string) => boolean {
  let body = source;
  let flags = "s";
  const lead = LEADING_FLAGS.exec(body);
  if (lead) {
    if (lead[1].includes("U"))
      throw new InvalidMatcherError(`unsupported regex flag U in ${JSON.stringify(source)}`);
    if (lead[1].includes("i")) flags += "i";
    if (lead[1].includes("m")) flags += "m";
    body = body.slice(lead[0].length);
  }
  if (flags === "s" && !REGEX_META.test(body)) return (s) => s === body;
  if (flags === "s") {
    const alternatives = body.split("|");
    if (alternatives.length > 1 && alternatives.every((a) => !REGEX_META.test(a))) {
      const set = new Set(alternatives);
      return (s) => set.has(s);
    }
  }
  let re: RegExp;
  try {
    re = new RegExp(`^(?:${body})$`, `${flags}u`);
  } catch {
    try {
      re = new RegExp(`^(?:${body})$`, flags);
    } catch (err) {
      throw new InvalidMatcherError(
        `error parsing regexp ${JSON.stringify(source)}: ${(err as Error).message}`,
      );
    }
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
