/** Every key, at any depth, that is not camelCase (ingesta's one naming convention for what it exposes). */
export function nonCamelCaseKeys(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(nonCamelCaseKeys);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([k, v]) => [...(/^[a-z][a-zA-Z0-9]*$/.test(k) ? [] : [k]), ...nonCamelCaseKeys(v)]);
}
