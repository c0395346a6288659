/** The Route 53 private records clients resolve. */
export interface DnsPort {
  /**
   * UPSERTs the record to these IPs and returns as soon as Route 53 accepted the change: propagation
   * (PENDING to INSYNC, up to 60 s on AWS) is never waited for here, it is polled with `changeInsync`.
   */
  setRecord(name: string, ips: readonly string[], opts?: { ttlSec?: number }): Promise<{ changeId: string }>;
  /** One GetChange: true once Route 53 reports the change INSYNC on all its servers. */
  changeInsync(changeId: string): Promise<boolean>;
  /** Current values of an A record. */
  getRecord(name: string): Promise<string[]>;
}
