/**
 * Sign-in is a key, as on the CLI: create one here, import a CLI key file, or unlock one kept
 * (encrypted) in this browser. The backup download warns that a lost key cannot be recovered.
 */
import { useSignal } from '@preact/signals';
import { signIn } from '../account.ts';
import { download, shortKey } from '../download.ts';
import {
  checkNewPassphrase,
  createKey,
  forgetKey,
  importKey,
  listKeys,
  type StoredKey,
  unlock,
} from '../keystore.ts';
import { formError } from '../messages.ts';
import { ActionStatus, Empty, Field, useAction, useLoad } from '../ui.tsx';

export function BackupWarning() {
  return (
    <p class="warning">
      Keep a backup of your key file somewhere safe. If you lose both the key and its passphrase,
      nobody can recover them: not the hospital, not the network.
    </p>
  );
}

export function SignIn(props: { role: string }) {
  const keys = useLoad(listKeys, []);
  return (
    <section aria-labelledby="signin-h">
      <h2 id="signin-h">Sign in as {props.role}</h2>
      <p>
        Your key is your identity. It is made and used only in this browser, kept encrypted with
        your passphrase, and never sent to the node.
      </p>
      <UnlockKey keys={keys.data.value ?? []} reload={keys.reload} />
      <CreateKey reload={keys.reload} />
      <ImportKey reload={keys.reload} />
    </section>
  );
}

function UnlockKey(props: { keys: StoredKey[]; reload: () => void }) {
  const chosen = useSignal('');
  const pass = useSignal('');
  const act = useAction();
  const selected = props.keys.find((k) => k.publicKey === chosen.value) ?? props.keys[0];
  if (props.keys.length === 0) {
    return (
      <div class="card">
        <h3>Keys in this browser</h3>
        <Empty>No key is kept in this browser yet: create one or import a key file below.</Empty>
      </div>
    );
  }
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Unlocking your key…', async (progress) => {
          if (!selected) throw formError('Choose a key.');
          if (pass.value === '') throw formError('Enter the passphrase of this key.');
          const pair = await unlock(selected, pass.value, progress);
          pass.value = '';
          signIn(selected.label, pair, selected.keyFile);
        });
      }}
    >
      <h3>Unlock a key kept in this browser</h3>
      <Field label="Key">
        {(id) => (
          <select
            id={id}
            value={selected?.publicKey}
            onChange={(e) => {
              chosen.value = e.currentTarget.value;
            }}
          >
            {props.keys.map((k) => (
              <option key={k.publicKey} value={k.publicKey}>
                {k.label} ({shortKey(k.publicKey)})
              </option>
            ))}
          </select>
        )}
      </Field>
      <Field label="Passphrase">
        {(id) => (
          <input
            id={id}
            type="password"
            autocomplete="current-password"
            value={pass.value}
            onInput={(e) => {
              pass.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <div class="row">
        <button type="submit" disabled={act.busy.value}>
          Unlock and sign in
        </button>
        <button
          type="button"
          class="secondary"
          onClick={() =>
            selected && download(`${selected.label}.key.json`, selected.keyFile, 'application/json')
          }
        >
          Download backup
        </button>
        <button
          type="button"
          class="danger"
          onClick={() => {
            if (
              selected &&
              confirm(
                `Remove the key "${selected.label}" from this browser? Without a backup it is lost.`,
              )
            ) {
              void forgetKey(selected.publicKey).then(props.reload);
            }
          }}
        >
          Remove from this browser
        </button>
      </div>
      <BackupWarning />
      <ActionStatus action={act} />
    </form>
  );
}

function CreateKey(props: { reload: () => void }) {
  const label = useSignal('');
  const pass = useSignal('');
  const pass2 = useSignal('');
  const act = useAction();
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Making and encrypting your key…', async (progress) => {
          checkNewPassphrase(pass.value, pass2.value);
          const { stored, pair } = await createKey(label.value, pass.value, progress);
          pass.value = '';
          pass2.value = '';
          props.reload();
          signIn(stored.label, pair, stored.keyFile, true);
          return `Key "${stored.label}" created (${shortKey(stored.publicKey)}). Download a backup now.`;
        });
      }}
    >
      <h3>Create a new key</h3>
      <Field label="Name for this key">
        {(id) => (
          <input
            id={id}
            autocomplete="off"
            value={label.value}
            onInput={(e) => {
              label.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <Field label="Passphrase" hint="At least 8 characters. It encrypts your key in this browser.">
        {(id, d) => (
          <input
            id={id}
            type="password"
            autocomplete="new-password"
            aria-describedby={d}
            value={pass.value}
            onInput={(e) => {
              pass.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <Field label="Passphrase again">
        {(id) => (
          <input
            id={id}
            type="password"
            autocomplete="new-password"
            value={pass2.value}
            onInput={(e) => {
              pass2.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <button type="submit" disabled={act.busy.value}>
        Create key
      </button>
      <ActionStatus action={act} />
    </form>
  );
}

function ImportKey(props: { reload: () => void }) {
  const file = useSignal<File | null>(null);
  const pass = useSignal('');
  const newPass = useSignal('');
  const act = useAction();
  return (
    <form
      class="card"
      onSubmit={(e) => {
        e.preventDefault();
        void act.run('Checking the key file…', async (progress) => {
          const f = file.value;
          if (!f) throw formError('Choose a key file (for example one made with: ehr keys new).');
          if (f.size > 64 * 1024)
            throw formError('This file is too large to be a key file.', 'KEYFILE_CORRUPT');
          const { stored, pair } = await importKey(
            f.name,
            await f.text(),
            pass.value,
            newPass.value === '' ? undefined : newPass.value,
            progress,
          );
          pass.value = '';
          newPass.value = '';
          props.reload();
          signIn(stored.label, pair, stored.keyFile);
          return `Imported "${stored.label}" (${shortKey(stored.publicKey)}).`;
        });
      }}
    >
      <h3>Import a key file</h3>
      <Field label="Key file" hint="A .json key file from the ehr command line or another browser.">
        {(id, d) => (
          <input
            id={id}
            type="file"
            accept=".json,application/json"
            aria-describedby={d}
            onChange={(e) => {
              file.value = e.currentTarget.files?.[0] ?? null;
            }}
          />
        )}
      </Field>
      <Field label="Passphrase of the file">
        {(id) => (
          <input
            id={id}
            type="password"
            autocomplete="current-password"
            value={pass.value}
            onInput={(e) => {
              pass.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <Field
        label="New passphrase (only for an unprotected file)"
        hint="A development key file without passphrase is encrypted with this one before it is kept."
      >
        {(id, d) => (
          <input
            id={id}
            type="password"
            autocomplete="new-password"
            aria-describedby={d}
            value={newPass.value}
            onInput={(e) => {
              newPass.value = e.currentTarget.value;
            }}
          />
        )}
      </Field>
      <button type="submit" disabled={act.busy.value}>
        Import and sign in
      </button>
      <ActionStatus action={act} />
    </form>
  );
}
