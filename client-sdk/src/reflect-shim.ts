// The three functions of the Reflect metadata API that @peculiar/x509's dependency injection (tsyringe) calls,
// for runtimes without a Reflect metadata polyfill. Imported before @peculiar/x509; leaves a real polyfill alone.
type Key = unknown;
type Target = object;
const store = new WeakMap<Target, Map<string | symbol | undefined, Map<Key, unknown>>>();

function table(target: Target, property: string | symbol | undefined, create: boolean): Map<Key, unknown> | undefined {
  let byProperty = store.get(target);
  if (!byProperty) {
    if (!create) return undefined;
    byProperty = new Map();
    store.set(target, byProperty);
  }
  let values = byProperty.get(property);
  if (!values && create) {
    values = new Map();
    byProperty.set(property, values);
  }
  return values;
}

const reflect = Reflect as unknown as Record<string, unknown>;
if (typeof reflect.getMetadata !== 'function') {
  reflect.defineMetadata = (key: Key, value: unknown, target: Target, property?: string | symbol) => void table(target, property, true)!.set(key, value);
  reflect.getOwnMetadata = (key: Key, target: Target, property?: string | symbol) => table(target, property, false)?.get(key);
  reflect.getMetadata = (key: Key, target: Target, property?: string | symbol): unknown => {
    for (let at: Target | null = target; at !== null; at = Object.getPrototypeOf(at) as Target | null) {
      const values = table(at, property, false);
      if (values?.has(key)) return values.get(key);
    }
    return undefined;
  };
}

export {};
