//! SMP payloads exchanged with libotr 4.1.1's own SMP implementation (sm.c, through FFI):
//! both roles, right and wrong secrets, and libotr's verdict on tampered messages.
//!
//! This checks the byte formats (MPI arrays, hash inputs, value order) without an OTR session;
//! SMP inside real OTR sessions is tested once the channel exists.

use std::ffi::{c_int, c_uchar, c_uint, c_void};
use std::sync::Once;

use otrbot::otr::smp::{secret, SmpEvent, SmpState, Tlv, SMP1, SMP2, SMP3, SMP4};

/// libotr's OtrlSMState (sm.h): eleven gcry_mpi_t, then three ints.
#[repr(C)]
struct OtrlSmState {
    mpis: [*mut c_void; 11],
    next_expected: c_int,
    received_question: c_int,
    sm_prog_state: c_int,
}

const PROG_OK: c_int = 0;
const PROG_CHEATED: c_int = -2;
const PROG_FAILED: c_int = -1;
const PROG_SUCCEEDED: c_int = 1;

#[link(name = "otr")]
#[link(name = "gcrypt")]
extern "C" {
    fn otrl_init(major: c_uint, minor: c_uint, sub: c_uint) -> c_uint;
    fn otrl_sm_state_new(st: *mut OtrlSmState);
    fn otrl_sm_state_init(st: *mut OtrlSmState);
    fn otrl_sm_state_free(st: *mut OtrlSmState);
    fn otrl_sm_step1(
        st: *mut OtrlSmState,
        secret: *const c_uchar,
        len: c_int,
        out: *mut *mut c_uchar,
        outlen: *mut c_int,
    ) -> c_uint;
    fn otrl_sm_step2a(
        st: *mut OtrlSmState,
        input: *const c_uchar,
        len: c_int,
        received_question: c_int,
    ) -> c_uint;
    fn otrl_sm_step2b(
        st: *mut OtrlSmState,
        secret: *const c_uchar,
        len: c_int,
        out: *mut *mut c_uchar,
        outlen: *mut c_int,
    ) -> c_uint;
    fn otrl_sm_step3(
        st: *mut OtrlSmState,
        input: *const c_uchar,
        len: c_int,
        out: *mut *mut c_uchar,
        outlen: *mut c_int,
    ) -> c_uint;
    fn otrl_sm_step4(
        st: *mut OtrlSmState,
        input: *const c_uchar,
        len: c_int,
        out: *mut *mut c_uchar,
        outlen: *mut c_int,
    ) -> c_uint;
    fn otrl_sm_step5(st: *mut OtrlSmState, input: *const c_uchar, len: c_int) -> c_uint;
    fn free(p: *mut c_void);
}

/// One libotr SMP state.
struct Libotr(Box<OtrlSmState>);

type Step = unsafe extern "C" fn(
    *mut OtrlSmState,
    *const c_uchar,
    c_int,
    *mut *mut c_uchar,
    *mut c_int,
) -> c_uint;

impl Libotr {
    fn new() -> Libotr {
        static INIT: Once = Once::new();
        INIT.call_once(|| assert_eq!(unsafe { otrl_init(4, 1, 1) }, 0, "otrl_init"));
        let mut st = Box::new(OtrlSmState {
            mpis: [std::ptr::null_mut(); 11],
            next_expected: 0,
            received_question: 0,
            sm_prog_state: 0,
        });
        unsafe {
            otrl_sm_state_new(&mut *st);
            otrl_sm_state_init(&mut *st);
        }
        Libotr(st)
    }

    fn prog(&self) -> c_int {
        self.0.sm_prog_state
    }

    /// Calls a step that produces a message; None if libotr produced none. libotr also
    /// returns an error code when the secrets differ, so the outcome is read from `prog`.
    fn call(&mut self, f: Step, input: &[u8]) -> Option<Vec<u8>> {
        let mut out: *mut c_uchar = std::ptr::null_mut();
        let mut outlen: c_int = 0;
        let _err = unsafe {
            f(
                &mut *self.0,
                input.as_ptr(),
                input.len() as c_int,
                &mut out,
                &mut outlen,
            )
        };
        if out.is_null() {
            return None;
        }
        let v = unsafe { std::slice::from_raw_parts(out, outlen as usize) }.to_vec();
        unsafe { free(out as *mut c_void) };
        Some(v)
    }

    fn step1(&mut self, secret: &[u8]) -> Vec<u8> {
        self.call(otrl_sm_step1, secret).expect("step1")
    }

    fn step2a(&mut self, input: &[u8]) -> bool {
        unsafe { otrl_sm_step2a(&mut *self.0, input.as_ptr(), input.len() as c_int, 0) == 0 }
    }

    fn step5(&mut self, input: &[u8]) -> bool {
        unsafe { otrl_sm_step5(&mut *self.0, input.as_ptr(), input.len() as c_int) == 0 }
    }
}

impl Drop for Libotr {
    fn drop(&mut self) {
        unsafe { otrl_sm_state_free(&mut *self.0) };
    }
}

/// The combined secrets (x, y) of initiator and responder for these answers.
fn secrets(a: &str, b: &str) -> (Vec<u8>, Vec<u8>) {
    let (fa, fb, ssid) = ([0x11; 20], [0x22; 20], [9u8; 8]);
    (
        secret(&fa, &fb, &ssid, a.as_bytes()).to_be_bytes().to_vec(),
        secret(&fa, &fb, &ssid, b.as_bytes()).to_be_bytes().to_vec(),
    )
}

fn exponent(b: &[u8]) -> otrbot::otr::group::Exponent {
    otrbot::otr::group::Exponent::from_be_bytes(b)
}

fn tlv(typ: u16, value: Vec<u8>) -> Tlv {
    Tlv { typ, value }
}

/// libotr starts, Rust answers; returns (libotr's final state, Rust's final event).
fn libotr_initiates(a: &str, b: &str) -> (c_int, SmpEvent) {
    let (x, y) = secrets(a, b);
    let mut alice = Libotr::new();
    let mut bob = SmpState::new();
    let m1 = alice.step1(&x);
    assert_eq!(
        bob.on_tlv(&tlv(SMP1, m1)).event,
        Some(SmpEvent::AskForSecret)
    );
    let m2 = bob.respond(exponent(&y)).unwrap().send.remove(0);
    assert_eq!(m2.typ, SMP2);
    let m3 = alice.call(otrl_sm_step3, &m2.value).expect("libotr step3");
    assert_eq!(alice.prog(), PROG_OK);
    let s = bob.on_tlv(&tlv(SMP3, m3));
    let m4 = &s.send[0];
    assert_eq!(m4.typ, SMP4);
    let ok = alice.step5(&m4.value);
    assert_eq!(ok, alice.prog() == PROG_SUCCEEDED);
    (alice.prog(), s.event.unwrap())
}

/// Rust starts, libotr answers; returns (libotr's final state, Rust's final event).
fn rust_initiates(a: &str, b: &str) -> (c_int, SmpEvent) {
    let (x, y) = secrets(a, b);
    let mut alice = SmpState::new();
    let mut bob = Libotr::new();
    let m1 = alice.start(exponent(&x), None).unwrap().send.remove(0);
    assert!(bob.step2a(&m1.value), "libotr step2a");
    assert_eq!(bob.prog(), PROG_OK);
    let m2 = bob.call(otrl_sm_step2b, &y).expect("libotr step2b");
    let s = alice.on_tlv(&tlv(SMP2, m2));
    assert_eq!(s.event, Some(SmpEvent::InProgress(60)));
    let m4 = bob
        .call(otrl_sm_step4, &s.send[0].value)
        .expect("libotr step4");
    let s = alice.on_tlv(&tlv(SMP4, m4));
    (bob.prog(), s.event.unwrap())
}

#[test]
fn libotr_initiates_right_secret() {
    assert_eq!(
        libotr_initiates("x", "x"),
        (PROG_SUCCEEDED, SmpEvent::Success)
    );
}

#[test]
fn libotr_initiates_wrong_secret() {
    assert_eq!(libotr_initiates("x", "y"), (PROG_FAILED, SmpEvent::Failure));
}

#[test]
fn rust_initiates_right_secret() {
    assert_eq!(
        rust_initiates("same", "same"),
        (PROG_SUCCEEDED, SmpEvent::Success)
    );
}

#[test]
fn rust_initiates_wrong_secret() {
    assert_eq!(
        rust_initiates("same", "other"),
        (PROG_FAILED, SmpEvent::Failure)
    );
}

#[test]
fn libotr_detects_tampered_rust_message() {
    let (x, _) = secrets("s", "s");
    let mut alice = SmpState::new();
    let mut m1 = alice
        .start(exponent(&x), None)
        .unwrap()
        .send
        .remove(0)
        .value;
    let last = m1.len() - 1;
    m1[last] ^= 1; // D3
    let mut bob = Libotr::new();
    assert!(!bob.step2a(&m1));
    assert_eq!(bob.prog(), PROG_CHEATED);
}

#[test]
fn rust_detects_tampered_libotr_message() {
    let (x, _) = secrets("s", "s");
    let mut alice = Libotr::new();
    let mut m1 = alice.step1(&x);
    m1[10] ^= 1; // inside g2a
    let mut bob = SmpState::new();
    assert_eq!(bob.on_tlv(&tlv(SMP1, m1)).event, Some(SmpEvent::Cheated));
}
