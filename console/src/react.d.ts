// The explorer's React is GraphiQL's renderer only: these are the two calls it makes (no @types/react needed).
declare module 'react' {
  export function createElement(type: unknown, props?: Record<string, unknown> | null, ...children: unknown[]): unknown;
}
declare module 'react-dom/client' {
  export function createRoot(container: Element): { render(node: unknown): void };
}
