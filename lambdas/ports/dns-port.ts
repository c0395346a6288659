/** The Route 53 private records clients resolve. */
export interface DnsPort {
  /** UPSERTs the record to these IPs and waits until Route 53 reports the change INSYNC. */
  setRecord(
    name: string,
    ips: readonly string[],
    opts?: { ttlSec?: number; timeoutMs?: number },
  ): Promise<{ changeId: string }>;
  /** Current values of an A record. */
  getRecord(name: string): Promise<string[]>;
}
