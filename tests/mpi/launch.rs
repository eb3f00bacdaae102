//! Runs one test of the current test binary as every rank of an `mpirun` job (the TCP
//! transport forced, as between the nodes of a cluster; bounded by `timeout 300`), and checks
//! that every rank passed it.

use std::process::Command;

/// Whether this process is a rank of an `mpirun` job (or of `srun --mpi=pmix`, which sets
/// neither of Open MPI's variables: Slurm's and PMIx's own say it).
pub fn under_mpirun() -> bool {
    [
        "OMPI_COMM_WORLD_SIZE",
        "PMI_RANK",
        "PMIX_RANK",
        "SLURM_PROCID",
    ]
    .iter()
    .any(|v| std::env::var_os(v).is_some())
}

pub fn run_on_ranks(test: &str, ranks: usize) {
    let mut cmd = Command::new("timeout");
    cmd.args(["300", "mpirun", "--allow-run-as-root", "--oversubscribe"])
        .args(["--mca", "btl", "tcp,self", "-n", &ranks.to_string()])
        .arg(std::env::current_exe().unwrap())
        .args(["--exact", test, "--test-threads=1", "--color", "never"]);
    let out = cmd
        .output()
        .expect("mpirun is installed (apt-get install openmpi-bin)");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "mpirun: {:?}\n{stdout}\n{stderr}",
        out.status
    );
    assert_eq!(
        stdout
            .matches("test result: ok. 1 passed; 0 failed")
            .count(),
        ranks,
        "{stdout}\n{stderr}"
    );
}
