/** Presents a running node to the gateway (the ports come from @ehr/node; this checks the fit). */
import type { GatewayNode } from '@ehr/gateway';
import { gatewayPorts, type RunningNode } from '@ehr/node';

export function gatewayNode(n: RunningNode): GatewayNode {
  return gatewayPorts(n);
}
