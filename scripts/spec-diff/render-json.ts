// The report as JSON, for tools: both sides, the counts, the version verdict and every change (one per
// operation, not grouped).
import type { Report } from './report.ts';

export function renderJson(report: Report): string {
  return `${JSON.stringify(report, null, 2)}\n`;
}
