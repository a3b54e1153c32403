/** The network as this node sees it: members and roles, the leader, heights, peers; live. */
import type { MembersInfo, NodeStatus } from '@ehr/api';
import { useEffect } from 'preact/hooks';
import { shortKey } from '../download.ts';
import { anonymous, events } from '../net.ts';
import { Empty, ErrorBox, Scroll, useLoad } from '../ui.tsx';

export function NetworkPage() {
  const c = anonymous();
  const status = useLoad(() => c.session.call<NodeStatus>('status'), []);
  const members = useLoad(() => c.directory.members(), []);
  const peers = useLoad(() => c.session.call<unknown>('node_peers'), []);
  useEffect(
    () =>
      events.onBlock(() => {
        status.reload();
        peers.reload();
      }),
    [],
  );
  const s = status.data.value;
  const m: MembersInfo | null = members.data.value;
  return (
    <>
      <section class="card" aria-labelledby="node-h">
        <h2 id="node-h">This node</h2>
        <ErrorBox error={status.error.value} />
        {s && (
          <dl>
            <dt>Name</dt>
            <dd>{s.name}</dd>
            <dt>Role</dt>
            <dd>{s.role}</dd>
            <dt>Height</dt>
            <dd id="node-height">{s.height}</dd>
            <dt>Network height</dt>
            <dd>{s.networkHeight}</dd>
            <dt>Leader</dt>
            <dd class="mono">{s.leader ? shortKey(s.leader) : 'none (election in progress)'}</dd>
            <dt>Term</dt>
            <dd>{s.term}</dd>
            <dt>Connected peers</dt>
            <dd>{s.peers}</dd>
            <dt>Chain</dt>
            <dd>{s.chainId}</dd>
          </dl>
        )}
      </section>
      <section class="card" aria-labelledby="members-h">
        <h2 id="members-h">Members</h2>
        <ErrorBox error={members.error.value} />
        {m?.members.length === 0 && <Empty>No member listed.</Empty>}
        <Scroll label="Members table (scrolls sideways)">
          <table>
            <thead>
              <tr>
                <th scope="col">Member</th>
                <th scope="col">Role</th>
                <th scope="col">Leader</th>
              </tr>
            </thead>
            <tbody>
              {(m?.members ?? []).map((x) => (
                <tr key={x.node}>
                  <td class="mono">
                    {shortKey(x.node)}
                    {s?.nodeId === x.node ? ' (this node)' : ''}
                  </td>
                  <td>{x.role}</td>
                  <td>{s?.leader === x.node ? 'leader' : ''}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Scroll>
        {m && <p>Admins: {m.admins.length}</p>}
      </section>
      <section class="card" aria-labelledby="peers-h">
        <h2 id="peers-h">Peers of this node</h2>
        <ErrorBox error={peers.error.value} />
        <Scroll label="Peers of this node, as the node reports them">
          <pre>{JSON.stringify(peers.data.value, null, 2)}</pre>
        </Scroll>
      </section>
    </>
  );
}
