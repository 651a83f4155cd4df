// Pure parsers from Linux procfs text to samples under node_exporter's metric names and labels.
// No I/O here: host/collector.ts reads the files and hands the text in, so every parser can be
// tested with fixed input.

/** One host sample before the collector adds job/instance. */
export interface HostSample {
  name: string;
  labels?: Record<string, string>;
  value: number;
}

/** Linux reports /proc/stat CPU times in USER_HZ, which is 100 on every supported architecture. */
const USER_HZ = 100;
const CPU_MODES = ['user', 'nice', 'system', 'idle', 'iowait', 'irq', 'softirq', 'steal'] as const;

/** /proc/stat: node_cpu_*, node_boot_time_seconds, node_context_switches_total, node_forks_total, node_intr_total, node_procs_*. */
export function parseStat(text: string, out: HostSample[]): void {
  for (const line of text.split('\n')) {
    const f = line.split(/\s+/);
    const key = f[0];
    if (key.startsWith('cpu') && key.length > 3) {
      const cpu = key.slice(3);
      for (let i = 0; i < CPU_MODES.length; i++) {
        const v = Number(f[i + 1]);
        if (f[i + 1] !== undefined && Number.isFinite(v)) out.push({ name: 'node_cpu_seconds_total', labels: { cpu, mode: CPU_MODES[i] }, value: v / USER_HZ });
      }
      if (f[9] !== undefined) out.push({ name: 'node_cpu_guest_seconds_total', labels: { cpu, mode: 'user' }, value: Number(f[9]) / USER_HZ });
      if (f[10] !== undefined) out.push({ name: 'node_cpu_guest_seconds_total', labels: { cpu, mode: 'nice' }, value: Number(f[10]) / USER_HZ });
      continue;
    }
    switch (key) {
      case 'btime':
        out.push({ name: 'node_boot_time_seconds', value: Number(f[1]) });
        break;
      case 'ctxt':
        out.push({ name: 'node_context_switches_total', value: Number(f[1]) });
        break;
      case 'processes':
        out.push({ name: 'node_forks_total', value: Number(f[1]) });
        break;
      case 'intr':
        out.push({ name: 'node_intr_total', value: Number(f[1]) });
        break;
      case 'procs_running':
        out.push({ name: 'node_procs_running', value: Number(f[1]) });
        break;
      case 'procs_blocked':
        out.push({ name: 'node_procs_blocked', value: Number(f[1]) });
        break;
    }
  }
}

/**
 * /proc/meminfo: `node_memory_<Field>_bytes` for fields in kB, `node_memory_<Field>` for counts
 * (HugePages_Total); `Active(anon)` becomes `Active_anon`, as node_exporter names them.
 */
export function parseMeminfo(text: string, out: HostSample[]): void {
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const key = line.slice(0, colon).replace(/\((.*)\)/, '_$1');
    if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(key)) continue;
    const parts = line.slice(colon + 1).trim().split(/\s+/);
    const v = Number(parts[0]);
    if (!Number.isFinite(v)) continue;
    if (parts[1] === 'kB') out.push({ name: `node_memory_${key}_bytes`, value: v * 1024 });
    else out.push({ name: `node_memory_${key}`, value: v });
  }
}

/** /proc/loadavg: node_load1, node_load5, node_load15. */
export function parseLoadavg(text: string, out: HostSample[]): void {
  const f = text.trim().split(/\s+/);
  if (f.length < 3) return;
  out.push({ name: 'node_load1', value: Number(f[0]) });
  out.push({ name: 'node_load5', value: Number(f[1]) });
  out.push({ name: 'node_load15', value: Number(f[2]) });
}

/** /proc/sys/fs/file-nr: allocated, unused, maximum. */
export function parseFileNr(text: string, out: HostSample[]): void {
  const f = text.trim().split(/\s+/);
  if (f.length < 3) return;
  out.push({ name: 'node_filefd_allocated', value: Number(f[0]) });
  out.push({ name: 'node_filefd_maximum', value: Number(f[2]) });
}

/** node_exporter's default --collector.diskstats.device-exclude (partitions, ramdisks, loops). */
export const DISK_DEVICE_EXCLUDE = /^(ram|loop|fd|(h|s|v|xv)d[a-z]|nvme\d+n\d+p)\d+$/;

const SECTOR = 512;
// [field index after the device name, metric name, scale]
const DISK_FIELDS: readonly [number, string, number][] = [
  [0, 'node_disk_reads_completed_total', 1],
  [1, 'node_disk_reads_merged_total', 1],
  [2, 'node_disk_read_bytes_total', SECTOR],
  [3, 'node_disk_read_time_seconds_total', 0.001],
  [4, 'node_disk_writes_completed_total', 1],
  [5, 'node_disk_writes_merged_total', 1],
  [6, 'node_disk_written_bytes_total', SECTOR],
  [7, 'node_disk_write_time_seconds_total', 0.001],
  [8, 'node_disk_io_now', 1],
  [9, 'node_disk_io_time_seconds_total', 0.001],
  [10, 'node_disk_io_time_weighted_seconds_total', 0.001],
  [11, 'node_disk_discards_completed_total', 1],
  [12, 'node_disk_discards_merged_total', 1],
  [13, 'node_disk_discarded_sectors_total', 1],
  [14, 'node_disk_discard_time_seconds_total', 0.001],
  [15, 'node_disk_flush_requests_total', 1],
  [16, 'node_disk_flush_requests_time_seconds_total', 0.001],
];

/** /proc/diskstats: node_disk_*{device}. */
export function parseDiskstats(text: string, out: HostSample[], exclude: RegExp = DISK_DEVICE_EXCLUDE): void {
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 14) continue;
    const device = f[2];
    if (exclude.test(device)) continue;
    const stats = f.slice(3);
    for (const [i, name, scale] of DISK_FIELDS) {
      if (i >= stats.length) break;
      const v = Number(stats[i]);
      if (Number.isFinite(v)) out.push({ name, labels: { device }, value: v * scale });
    }
  }
}

/** /proc/net/dev: node_network_{receive,transmit}_<field>_total{device}, field names from the header. */
export function parseNetDev(text: string, out: HostSample[], exclude?: RegExp): void {
  const lines = text.split('\n');
  if (lines.length < 2) return;
  const header = lines[1].split('|');
  if (header.length < 3) return;
  const rx = header[1].trim().split(/\s+/);
  const tx = header[2].trim().split(/\s+/);
  for (let li = 2; li < lines.length; li++) {
    const line = lines[li];
    const colon = line.indexOf(':');
    if (colon < 0) continue;
    const device = line.slice(0, colon).trim();
    if (exclude?.test(device)) continue;
    const f = line.slice(colon + 1).trim().split(/\s+/);
    for (let i = 0; i < rx.length; i++) out.push({ name: `node_network_receive_${rx[i]}_total`, labels: { device }, value: Number(f[i]) });
    for (let i = 0; i < tx.length; i++) out.push({ name: `node_network_transmit_${tx[i]}_total`, labels: { device }, value: Number(f[rx.length + i]) });
  }
}

/** node_exporter's default --collector.filesystem.mount-points-exclude. */
export const MOUNT_POINTS_EXCLUDE = /^\/(dev|proc|run\/credentials\/.+|sys|var\/lib\/docker\/.+|var\/lib\/containers\/storage\/.+)($|\/)/;
/** node_exporter's default --collector.filesystem.fs-types-exclude: pseudo filesystems. */
export const FS_TYPES_EXCLUDE =
  /^(autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs)$/;

export interface Mount {
  device: string;
  mountpoint: string;
  fstype: string;
  readonly: boolean;
}

/** /proc/mounts lines escape space, tab, newline and backslash as octal (`\040`). */
function unescapeMount(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_m, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The mounts node_exporter reports: pseudo filesystems and excluded mount points dropped, duplicates once. */
export function parseMounts(text: string, mountPointsExclude: RegExp = MOUNT_POINTS_EXCLUDE, fsTypesExclude: RegExp = FS_TYPES_EXCLUDE): Mount[] {
  const out: Mount[] = [];
  const seen = new Set<string>();
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 4) continue;
    const device = unescapeMount(f[0]);
    const mountpoint = unescapeMount(f[1]);
    const fstype = f[2];
    if (mountPointsExclude.test(mountpoint) || fsTypesExclude.test(fstype)) continue;
    const key = `${device}\x00${mountpoint}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push({ device, mountpoint, fstype, readonly: f[3].split(',').includes('ro') });
  }
  return out;
}

export interface FsStats {
  bsize: number;
  blocks: number;
  bfree: number;
  bavail: number;
  files: number;
  ffree: number;
}

/** node_filesystem_* for one mount; `stats` null means statfs failed (device_error 1). */
export function filesystemSamples(m: Mount, stats: FsStats | null, out: HostSample[]): void {
  const labels = { device: m.device, fstype: m.fstype, mountpoint: m.mountpoint };
  out.push({ name: 'node_filesystem_device_error', labels, value: stats ? 0 : 1 });
  out.push({ name: 'node_filesystem_readonly', labels, value: m.readonly ? 1 : 0 });
  if (!stats) return;
  out.push({ name: 'node_filesystem_size_bytes', labels, value: stats.blocks * stats.bsize });
  out.push({ name: 'node_filesystem_free_bytes', labels, value: stats.bfree * stats.bsize });
  out.push({ name: 'node_filesystem_avail_bytes', labels, value: stats.bavail * stats.bsize });
  out.push({ name: 'node_filesystem_files', labels, value: stats.files });
  out.push({ name: 'node_filesystem_files_free', labels, value: stats.ffree });
}
