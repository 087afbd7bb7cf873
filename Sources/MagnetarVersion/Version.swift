/// The version every Magnetar executable reports with `--version`.
public enum MagnetarVersion {
    public static let current = "0.1.0"
}
