/** Small shared pieces: fields, progress, errors, empty states, and running an action. */
import { type Signal, signal, useSignal } from '@preact/signals';
import type { ComponentChildren, JSX } from 'preact';
import { useEffect, useId } from 'preact/hooks';
import { errorCode, explain, type Shown } from './messages.ts';

/** Refusals that mean "not now", made before anything was done: safe to try again. */
const TRANSIENT = new Set(['NO_LEADER', 'NOT_READY', 'RATE_LIMITED', 'MEMPOOL_FULL']);

export function Field(props: {
  label: string;
  hint?: string;
  children: (id: string, describedBy: string | undefined) => JSX.Element;
}) {
  const id = useId();
  const hintId = props.hint ? `${id}-hint` : undefined;
  return (
    <div class="field">
      <label for={id}>{props.label}</label>
      {props.children(id, hintId)}
      {props.hint && (
        <small id={hintId} class="hint">
          {props.hint}
        </small>
      )}
    </div>
  );
}

export function Progress(props: { value: number | null; label: string }) {
  return (
    <div class="progress" role="status">
      <span>{props.label}</span>
      <progress
        max={1}
        aria-label={props.label}
        {...(props.value === null ? {} : { value: props.value })}
      />
    </div>
  );
}

export function ErrorBox(props: { error: Shown | null }) {
  if (!props.error) return null;
  return (
    <div class="error" role="alert">
      <strong>{props.error.words}</strong>
      <p class="detail">{props.error.detail}</p>
      <p class="code">Code for support: {props.error.code}</p>
    </div>
  );
}

export function Notice(props: { children: ComponentChildren }) {
  return (
    <p class="notice" role="status">
      {props.children}
    </p>
  );
}

export function Empty(props: { children: ComponentChildren }) {
  return <p class="empty">{props.children}</p>;
}

export interface Action {
  busy: Signal<boolean>;
  progress: Signal<number | null>;
  error: Signal<Shown | null>;
  done: Signal<string | null>;
  run(label: string, fn: (progress: (f: number) => void) => Promise<unknown>): Promise<boolean>;
  label: Signal<string>;
}

/** One user action: busy flag, progress, a coded error in words, a success message. */
export function useAction(): Action {
  const busy = useSignal(false);
  const progress = useSignal<number | null>(null);
  const error = useSignal<Shown | null>(null);
  const done = useSignal<string | null>(null);
  const label = useSignal('');
  return {
    busy,
    progress,
    error,
    done,
    label,
    async run(l, fn) {
      if (busy.value) return false;
      busy.value = true;
      label.value = l;
      progress.value = null;
      error.value = null;
      done.value = null;
      try {
        for (let attempt = 1; ; attempt++) {
          try {
            const msg = await fn((f) => {
              progress.value = f;
            });
            done.value = typeof msg === 'string' ? msg : null;
            return true;
          } catch (err) {
            // A node between leaders (or still starting) refused before doing anything: wait
            // and try again, saying so, a few times before showing the error.
            if (!TRANSIENT.has(errorCode(err)) || attempt >= 4) throw err;
            label.value = `${l} (the network is busy, trying again)`;
            await new Promise((r) => setTimeout(r, 750 * attempt));
          }
        }
      } catch (err) {
        error.value = explain(err);
        return false;
      } finally {
        busy.value = false;
      }
    },
  };
}

export function ActionStatus(props: { action: Action }) {
  const a = props.action;
  return (
    <>
      {a.busy.value && <Progress value={a.progress.value} label={a.label.value} />}
      <ErrorBox error={a.error.value} />
      {a.done.value && <Notice>{a.done.value}</Notice>}
    </>
  );
}

/**
 * Runs `fn` whenever `deps` change or `reload()` is called, handing its value to `take`; a result
 * that arrives after the deps changed again is dropped. The one loader under useLoad and usePages.
 */
function useLoader<T>(fn: () => Promise<T>, deps: unknown[], take: (v: T) => void) {
  const error = useSignal<Shown | null>(null);
  const loading = useSignal(true);
  const tick = useSignal(0);
  useEffect(() => {
    let live = true;
    loading.value = true;
    fn().then(
      (v) => {
        if (!live) return;
        take(v);
        error.value = null;
        loading.value = false;
      },
      (err) => {
        if (!live) return;
        error.value = explain(err);
        loading.value = false;
      },
    );
    return () => {
      live = false;
    };
  }, [...deps, tick.value]);
  return { error, loading, reload: () => (tick.value += 1) };
}

/** Loads data, reloading whenever `deps` change or `reload()` is called. */
export function useLoad<T>(fn: () => Promise<T>, deps: unknown[]) {
  const data = useSignal<T | null>(null);
  const load = useLoader(fn, deps, (v) => (data.value = v));
  return { data, ...load };
}

export const liveConnected = signal(false);

/** A region that may scroll sideways (wide tables at 390 px): reachable by keyboard, named. */
export function Scroll(props: { label: string; children: ComponentChildren }) {
  return (
    // biome-ignore lint/a11y/noNoninteractiveTabindex: axe (scrollable-region-focusable) wants a scrolling region reachable by keyboard
    <section class="scroll" tabIndex={0} aria-label={props.label}>
      {props.children}
    </section>
  );
}

/** One page of a list as the gateway serves it. */
export interface PageOf<T> {
  items: T[];
  cursor?: string;
}

/**
 * A paged list: the first page, then `more()` appends the next one (following the cursor).
 * `reload()` reads the first page again, as long as what is shown (up to 1000), so a new block
 * refreshes the list without folding it back.
 */
export function usePages<T>(
  fetch: (cursor: string | undefined, limit: number) => Promise<PageOf<T>>,
  deps: unknown[],
  pageSize = 20,
) {
  const items = useSignal<T[] | null>(null);
  const cursor = useSignal<string | undefined>(undefined);
  const load = useLoader(
    () => fetch(undefined, Math.min(1000, Math.max(pageSize, items.value?.length ?? 0))),
    deps,
    (p) => {
      items.value = p.items;
      cursor.value = p.cursor;
    },
  );
  const { error, loading } = load;
  return {
    items,
    cursor,
    ...load,
    async more(): Promise<void> {
      if (cursor.value === undefined || loading.value) return;
      loading.value = true;
      try {
        const p = await fetch(cursor.value, pageSize);
        items.value = [...(items.value ?? []), ...p.items];
        cursor.value = p.cursor;
        error.value = null;
      } catch (err) {
        error.value = explain(err);
      } finally {
        loading.value = false;
      }
    },
  };
}

/** "Show more" under a paged list, and how many are shown (announced to screen readers). */
export function More(props: { pages: ReturnType<typeof usePages<unknown>>; what: string }) {
  const p = props.pages;
  const n = p.items.value?.length ?? 0;
  return (
    <div class="row more">
      <span role="status" aria-live="polite">
        {n > 0 ? `Showing ${n} ${props.what}${p.cursor.value ? '' : ' (all)'}` : ''}
      </span>
      {p.cursor.value !== undefined && (
        <button
          type="button"
          disabled={p.loading.value}
          aria-busy={p.loading.value ? 'true' : 'false'}
          onClick={() => void p.more()}
        >
          Show more {props.what}
        </button>
      )}
    </div>
  );
}
