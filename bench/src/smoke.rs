//! What CI runs (`chinwag-bench smoke`): every workload at small sizes,
//! each for a second or so, the new ones of version 2 included (rooms on
//! disk, sign-ins, a password flood beside chat, TLS), and a cluster of
//! two nodes on a private redis-server (chat pairs split across the nodes,
//! a crowd spread over them), in about fifteen seconds all told. Against a
//! server given with `--server` the cluster runs are left out.

use crate::cli::{Common, Flags, Workload};
use crate::workloads::crowd::{ConnectParams, ListParams};
use crate::workloads::messages::{FanoutParams, PairsParams, RateParams};
use crate::workloads::rooms::RoomsParams;
use crate::workloads::signin::SigninParams;

/// The runs, in order.
pub(crate) fn runs(common: &Common) -> Vec<Workload> {
    let on_disk = Common {
        data_dir: true,
        ..common.clone()
    };
    let tls = Common {
        tls: true,
        ..common.clone()
    };
    let cluster = Common {
        cluster: Some(2),
        ..common.clone()
    };
    let pairs = PairsParams {
        pairs: 4,
        window: 4,
        secs: 1.0,
    };
    let connect = ConnectParams {
        clients: 200,
        concurrency: 50,
        register: false,
    };
    let mut runs = vec![
        Workload::Pairs(Flags::new(pairs, common)),
        Workload::Rate(Flags::new(
            RateParams {
                pairs: 10,
                rate: 2000.0,
                secs: 1.0,
                guessers: 2,
            },
            common,
        )),
        Workload::Fanout(Flags::new(
            FanoutParams {
                members: 20,
                senders: 2,
                rate: 100.0,
                secs: 1.0,
            },
            common,
        )),
        Workload::Connect(Flags::new(connect, common)),
        Workload::List(Flags::new(
            ListParams {
                clients: 200,
                reps: 5,
            },
            common,
        )),
        Workload::Rooms(Flags::new(
            RoomsParams {
                rooms: 4,
                members: 5,
                window: 4,
                secs: 1.0,
            },
            &on_disk,
        )),
        Workload::Signin(Flags::new(
            SigninParams {
                names: 12,
                signers: 4,
                secs: 1.0,
            },
            common,
        )),
        Workload::Pairs(Flags::new(pairs, &tls)),
        Workload::Connect(Flags::new(connect, &tls)),
    ];
    if common.server.is_none() {
        runs.extend([
            Workload::Pairs(Flags::new(pairs, &cluster)),
            Workload::Connect(Flags::new(connect, &cluster)),
        ]);
    }
    runs
}
