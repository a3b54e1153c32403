/** Home: who are you? Admin, Patient or Doctor; and the chain anyone can check. */
import { href } from '../router.ts';

export function HomePage() {
  return (
    <>
      <p class="lead">
        Health records on a shared ledger run by hospitals. Your key is made and kept in this
        browser; your records are encrypted here before they leave it.
      </p>
      <nav aria-label="Choose your role" class="roles">
        <a class="role" href={href('patient')}>
          <strong>Patient</strong>
          <span>
            Send reports to a hospital, see prescriptions, choose who may read your records.
          </span>
        </a>
        <a class="role" href={href('doctor')}>
          <strong>Doctor</strong>
          <span>Read the reports shared with your hospital and write prescriptions.</span>
        </a>
        <a class="role" href={href('admin')}>
          <strong>Admin</strong>
          <span>Register hospitals and doctors, run the network’s governance.</span>
        </a>
      </nav>
      <p>
        Anyone can <a href={href('chain')}>check the chain</a> in this browser, or look at{' '}
        <a href={href('network')}>the network</a>.
      </p>
    </>
  );
}
