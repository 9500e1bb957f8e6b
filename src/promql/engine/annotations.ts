/** Warnings and infos a query collects, in Prometheus's wording (util/annotations). */
export class Annotations {
  readonly warnings = new Set<string>();
  readonly infos = new Set<string>();

  warn(message: string): void {
    this.warnings.add(`PromQL warning: ${message}`);
  }

  info(message: string): void {
    this.infos.add(`PromQL info: ${message}`);
  }
}
