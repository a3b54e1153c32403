/**
 * The gateway this page was served by (same origin: no CORS), and clients for it. Public reads
 * (hospitals, blocks, status) use a client with a throwaway key that never signs anything.
 */
import { EhrClient, GatewayEvents } from '@ehr/api';
import { generateSecretKey } from '@ehr/core';

export const GATEWAY_URL = new URL('/', location.href).href;

let publicClient: EhrClient | undefined;
export function anonymous(): EhrClient {
  publicClient ??= new EhrClient(GATEWAY_URL, generateSecretKey());
  return publicClient;
}

export const events = new GatewayEvents(GATEWAY_URL);

export interface ChainLimits {
  maxPayloadBytes: number;
  maxDocumentBytes: number;
}

export interface ChainConfigView {
  chainId: string;
  genesisHash?: string;
  limits: ChainLimits & Record<string, number>;
}

let config: Promise<ChainConfigView> | undefined;
/** The chain's id and limits (cached for the page's life; limits change only by genesis). */
export function chainConfig(): Promise<ChainConfigView> {
  config ??= anonymous()
    .session.call<ChainConfigView>('chain_config')
    .catch((err: unknown) => {
      config = undefined;
      throw err;
    });
  return config;
}
