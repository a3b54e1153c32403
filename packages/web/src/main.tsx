/** The portal: one page per role, a key to sign in, the chain for everyone. */
import { render } from 'preact';
import { type Account, account, needsBackup, signOut } from './account.ts';
import { download, shortKey } from './download.ts';
import { events } from './net.ts';
import { AdminPage } from './pages/admin.tsx';
import { ChainPage } from './pages/chain.tsx';
import { DoctorPage } from './pages/doctor.tsx';
import { HomePage } from './pages/home.tsx';
import { NetworkPage } from './pages/network.tsx';
import { PatientPage } from './pages/patient.tsx';
import { BackupWarning, SignIn } from './pages/signin.tsx';
import { href, type Route, route } from './router.ts';
import { liveConnected } from './ui.tsx';

events.onConnection = (c) => {
  liveConnected.value = c;
};
// Open the live connection at once (pages add their own listeners).
events.onBlock(() => {});

const TITLES: Record<Route, string> = {
  home: 'EHR Ledger',
  admin: 'Admin',
  patient: 'Patient',
  doctor: 'Doctor',
  chain: 'The chain',
  network: 'The network',
};

function RolePage(props: {
  who: 'admin' | 'patient' | 'doctor';
  page: (me: Account) => preact.JSX.Element;
}) {
  const me = account.value;
  if (!me) return <SignIn role={props.who} />;
  return (
    <>
      {needsBackup.value && (
        <section class="card" aria-label="Back up your new key">
          <p>
            Your key <strong>{me.label}</strong> was created in this browser. Download a backup now
            (it stays encrypted with your passphrase).
          </p>
          <BackupWarning />
          <div class="row">
            <button
              type="button"
              onClick={() => {
                download(`${me.label}.key.json`, me.keyFile, 'application/json');
                needsBackup.value = false;
              }}
            >
              Download backup
            </button>
            <button
              type="button"
              class="secondary"
              onClick={() => {
                needsBackup.value = false;
              }}
            >
              Later
            </button>
          </div>
        </section>
      )}
      {props.page(me)}
    </>
  );
}

function Page() {
  switch (route.value) {
    case 'admin':
      return <RolePage who="admin" page={(me) => <AdminPage me={me} />} />;
    case 'patient':
      return <RolePage who="patient" page={(me) => <PatientPage key={me.publicKey} me={me} />} />;
    case 'doctor':
      return <RolePage who="doctor" page={(me) => <DoctorPage key={me.publicKey} me={me} />} />;
    case 'chain':
      return <ChainPage />;
    case 'network':
      return <NetworkPage />;
    default:
      return <HomePage />;
  }
}

function App() {
  const me = account.value;
  const title = TITLES[route.value];
  document.title = route.value === 'home' ? 'EHR Ledger portal' : `${title} — EHR Ledger portal`;
  return (
    <>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header>
        <nav aria-label="Main">
          <a href={href('home')} aria-current={route.value === 'home' ? 'page' : undefined}>
            Home
          </a>
          <a href={href('patient')} aria-current={route.value === 'patient' ? 'page' : undefined}>
            Patient
          </a>
          <a href={href('doctor')} aria-current={route.value === 'doctor' ? 'page' : undefined}>
            Doctor
          </a>
          <a href={href('admin')} aria-current={route.value === 'admin' ? 'page' : undefined}>
            Admin
          </a>
          <a href={href('chain')} aria-current={route.value === 'chain' ? 'page' : undefined}>
            Chain
          </a>
          <a href={href('network')} aria-current={route.value === 'network' ? 'page' : undefined}>
            Network
          </a>
        </nav>
        <div class="who">
          <span class={`live ${liveConnected.value ? 'on' : 'off'}`}>
            {liveConnected.value ? 'Live' : 'Connecting…'}
          </span>
          {me && (
            <>
              <span>
                Signed in: <strong>{me.label}</strong>{' '}
                <span class="mono" id="my-public-key" title={me.publicKey}>
                  {shortKey(me.publicKey)}
                </span>
              </span>
              <button
                type="button"
                class="secondary small"
                onClick={() => download(`${me.label}.key.json`, me.keyFile, 'application/json')}
              >
                Back up key
              </button>
              <button type="button" class="secondary small" onClick={signOut}>
                Sign out
              </button>
            </>
          )}
        </div>
      </header>
      <main id="main">
        <h1 tabIndex={-1}>{title}</h1>
        <Page />
      </main>
    </>
  );
}

render(<App />, document.getElementById('app')!);
