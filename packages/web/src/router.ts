/** Hash routes (#/patient, #/chain, …): the gateway serves one index.html, no server routing. */
import { signal } from '@preact/signals';

export type Route = 'home' | 'admin' | 'patient' | 'doctor' | 'chain' | 'network';
const ROUTES: Route[] = ['home', 'admin', 'patient', 'doctor', 'chain', 'network'];

function parse(): Route {
  const r = location.hash.replace(/^#\/?/, '').split('/')[0] ?? '';
  return (ROUTES as string[]).includes(r) ? (r as Route) : 'home';
}

export const route = signal<Route>(parse());
addEventListener('hashchange', () => {
  route.value = parse();
  // Move focus to the page heading so keyboard and screen-reader users land on the new page.
  queueMicrotask(() => document.querySelector<HTMLElement>('main h1')?.focus());
});

export const href = (r: Route): string => (r === 'home' ? '#/' : `#/${r}`);
