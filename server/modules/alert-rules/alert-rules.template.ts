// The description template of a rule: `{{name}}` placeholders replaced by values, nothing else interpreted
// (no expressions, no code), so a template written by any team member is safe to render.
const PLACEHOLDER = /\{\{\s*([a-z_]+(?:\.[a-z0-9_]+)?)\s*\}\}/g;

/** The template with each known placeholder replaced; an unknown one is left as written. */
export function renderTemplate(template: string, values: Readonly<Record<string, string>>): string {
  return template.replace(PLACEHOLDER, (whole, name: string) => values[name] ?? whole);
}
