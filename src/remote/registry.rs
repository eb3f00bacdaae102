//! The table of functions a worker process may run, and [`register!`](crate::register).
//!
//! On the wire a task names its function by a string: the function's module path and name,
//! and the line and column of its `register!` (`my_crate::count_primes@12:1`), so that two
//! functions of one name in one module (each defined inside a different function) never share a
//! name. A name that two different functions do share anyway (a macro that registers two
//! same-named functions from one invocation) is refused when a pool is built, with both sites in
//! the message. The worker looks the name up in this table — a link-time array built by
//! `linkme`, so it exists before `main` and needs no start-up code — and calls the entry's
//! monomorphised `invoke`, which decodes the argument, calls the function, encodes its result
//! and drops it, each step contained (`unwind.rs`). A name that is not in the table is an error
//! on that task; nothing on the wire is ever turned into a code address. The same name
//! identifies the same function in any process running the same binary, on any host.
//!
//! In the parent, `submit_fn(f, arg)` finds the entry from the function item's own type (or a
//! plain `fn` pointer's address, with the argument and result types checked), so an
//! unregistered function is refused at submit with a message saying how to register it.

use std::any::TypeId;
use std::collections::HashMap;
use std::sync::OnceLock;

use serde::{de::DeserializeOwned, Serialize};

use super::batch::Replies;
use super::codec;
use super::unwind::{catch, drop_in_task};

pub use crate::error::RemoteError;

/// One registered function. Built by [`register!`](crate::register); not constructed by hand.
#[doc(hidden)]
pub struct Registration {
    /// The name the wire uses: module path, function name and the registration's line and
    /// column, so that two functions of the same name in one module never share it.
    pub name: &'static str,
    /// Where `register!` was written (`file:line:column`), for error messages.
    pub site: &'static str,
    /// The function itself, behind its monomorphised entry points.
    pub entry: &'static dyn Entry,
}

/// What the registry needs of one registered function: how to recognise it in the parent and
/// how to run it in a worker. Implemented once, by [`Typed`].
#[doc(hidden)]
pub trait Entry: Sync {
    /// The function's address (to find the entry from a `fn` pointer in the parent).
    fn addr(&self) -> usize;
    /// `(TypeId::of::<A>(), TypeId::of::<R>())`.
    fn types(&self) -> (TypeId, TypeId);
    /// The `TypeId` of the function item's own (zero-sized, unique) type.
    fn item(&self) -> TypeId;
    /// Decodes one argument, calls, encodes the result.
    fn invoke(&self, bytes: &[u8]) -> Result<Vec<u8>, RemoteError>;
    /// Decodes a `Vec` of arguments, calls once per item, encodes a `Vec` of per-item results.
    fn invoke_batch(&self, bytes: &[u8]) -> Result<Vec<u8>, RemoteError>;
}

/// A registered function with its types: the function item (for its `TypeId`) and the same
/// function as a pointer (for its address and to call it).
///
/// `register!` builds one in a single expression, `Typed::new(f, f)`, whose only bound is
/// `F: Fn(A) -> R`: a generic function then fails to compile with one error at the user's
/// `register!`, naming the type parameter and suggesting `f::<T>` (which registers that
/// instance), and a type that is not a [`Payload`](crate::Payload) fails where the entry is
/// made, with `Payload`'s message.
#[doc(hidden)]
pub struct Typed<F, A, R> {
    /// Held for its type (the function item's `TypeId`); the calls go through `ptr`.
    _item: F,
    ptr: fn(A) -> R,
}

impl<F: Fn(A) -> R, A, R> Typed<F, A, R> {
    #[doc(hidden)]
    pub const fn new(item: F, ptr: fn(A) -> R) -> Self {
        Typed { _item: item, ptr }
    }
}

impl<F, A, R> Entry for Typed<F, A, R>
where
    F: crate::TaskFn<A, R>,
    A: crate::Payload,
    R: crate::Payload,
{
    fn addr(&self) -> usize {
        self.ptr as usize
    }
    fn types(&self) -> (TypeId, TypeId) {
        (TypeId::of::<A>(), TypeId::of::<R>())
    }
    fn item(&self) -> TypeId {
        TypeId::of::<F>()
    }
    fn invoke(&self, bytes: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let a: A = decode_arg(bytes)?;
        run_one(self.ptr, a)
    }
    fn invoke_batch(&self, bytes: &[u8]) -> Result<Vec<u8>, RemoteError> {
        let items: Vec<A> = decode_arg(bytes)?;
        // Each item's result is encoded on its own: one item that fails to encode (or whose
        // decode panics in the parent) fails only that item.
        let mut replies = Replies::with_capacity(items.len());
        for a in items {
            replies.push(|buf| run_into(self.ptr, a, buf));
        }
        replies.encode().map_err(RemoteError::BadResult)
    }
}

#[doc(hidden)]
#[linkme::distributed_slice]
pub static REGISTRY: [Registration];

/// Makes plain functions runnable in worker processes: one line next to their definitions.
///
/// A registered function takes one argument and returns one value, both `serde` types
/// (use a tuple for several arguments). A generic function is registered once per type it
/// is used with, by naming the instance: `register!(largest::<u32>, largest::<String>)`.
///
/// ```
/// use concurrent_futures::{register, ProcessPoolExecutor};
///
/// fn square(x: u64) -> u64 { x * x }
/// fn largest<T: PartialOrd>(v: Vec<T>) -> Option<T> {
///     v.into_iter().reduce(|a, b| if b > a { b } else { a })
/// }
/// register!(square, largest::<u32>);
///
/// let pool = ProcessPoolExecutor::new();
/// assert_eq!(pool.submit_fn(square, 12).unwrap().result(), Ok(144));
/// assert_eq!(pool.submit_fn(largest::<u32>, vec![3, 9, 4]).unwrap().result(), Ok(Some(9)));
/// ```
#[macro_export]
macro_rules! register {
    ($($f:expr),+ $(,)?) => {
        $(
            const _: () = {
                #[$crate::__private::linkme::distributed_slice($crate::__private::REGISTRY)]
                #[linkme(crate = $crate::__private::linkme)]
                static __CF_REGISTRATION: $crate::__private::Registration =
                    $crate::__private::Registration {
                        name: concat!(
                            module_path!(),
                            "::",
                            stringify!($f),
                            "@",
                            line!(),
                            ":",
                            column!()
                        ),
                        site: concat!(file!(), ":", line!(), ":", column!()),
                        entry: &$crate::__private::Typed::new($f, $f),
                    };
                // MinGW's linker drops an unreferenced `#[used]` static with `--gc-sections`
                // (MSVC's keeps it): a C-runtime initializer, a section it always keeps,
                // refers to the registration.
                #[cfg(all(windows, target_env = "gnu"))]
                #[used]
                #[link_section = ".CRT$XCU"]
                static __CF_KEEP: extern "C" fn() = {
                    extern "C" fn keep() {
                        ::core::hint::black_box(&__CF_REGISTRATION);
                    }
                    keep
                };
            };
        )+
    };
}

/// Decodes an argument, its `Deserialize` contained.
fn decode_arg<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, RemoteError> {
    catch(Some("decoding the argument"), || codec::decode::<T>(bytes))?
        .map_err(RemoteError::BadArgument)
}

/// Calls `f(a)` and encodes its result; the function, the result's `Serialize` and its `Drop`
/// all run contained.
fn run_one<A, R: Serialize>(f: fn(A) -> R, a: A) -> Result<Vec<u8>, RemoteError> {
    let mut out = Vec::new();
    run_into(f, a, &mut out)?;
    Ok(out)
}

/// [`run_one`], appending the encoded result to `out` (which may hold part of it on an error).
fn run_into<A, R: Serialize>(f: fn(A) -> R, a: A, out: &mut Vec<u8>) -> Result<(), RemoteError> {
    let r = catch(None, move || f(a))?;
    let encoded = catch(Some("encoding the result"), || codec::encode_into(out, &r));
    // The outcome is decided; a panicking `Drop` of the result is contained and changes nothing
    // (on the thread engine the caller would drop the value, and see the panic there).
    drop_in_task(r);
    encoded?.map_err(RemoteError::BadResult)
}

struct Index {
    /// Two registrations of different functions under one name (refused at pool build).
    collision: Option<String>,
    by_item: HashMap<TypeId, &'static Registration>,
    by_addr: HashMap<usize, Vec<&'static Registration>>,
    by_name: HashMap<&'static str, &'static Registration>,
}

fn index() -> &'static Index {
    static INDEX: OnceLock<Index> = OnceLock::new();
    INDEX.get_or_init(|| {
        let mut by_addr: HashMap<usize, Vec<&'static Registration>> = HashMap::new();
        let mut by_name = HashMap::new();
        let mut by_item = HashMap::new();
        let mut collision = None;
        for r in REGISTRY.iter() {
            by_item.entry(r.entry.item()).or_insert(r);
            by_addr.entry(r.entry.addr()).or_default().push(r);
            let first: &&'static Registration = by_name.entry(r.name).or_insert(r);
            if first.entry.item() != r.entry.item() && collision.is_none() {
                collision = Some(format!(
                    "two different functions are registered under one name, `{}` (register! \
                     at {} and at {}): give them different names or register them from \
                     different modules",
                    r.name, first.site, r.site
                ));
            }
        }
        Index {
            collision,
            by_item,
            by_addr,
            by_name,
        }
    })
}

/// The registration of `f`, if it was registered.
///
/// A function item is found by its own type, which is unique and the same in every codegen unit
/// and crate. (Its *address* is not reliable: the compiler may give each codegen unit its own
/// copy of a small function.) A plain `fn(A) -> R` pointer is found by address, as a fallback.
pub(crate) fn lookup_fn<A: 'static, R: 'static, F: crate::TaskFn<A, R>>(
    f: &F,
) -> Option<&'static Registration> {
    let index = index();
    if let Some(r) = index.by_item.get(&TypeId::of::<F>()) {
        return Some(r);
    }
    if TypeId::of::<F>() != TypeId::of::<fn(A) -> R>() {
        return None;
    }
    debug_assert_eq!(std::mem::size_of::<F>(), std::mem::size_of::<usize>());
    // SAFETY: `F` is exactly `fn(A) -> R` (same `TypeId`), a pointer-sized function pointer.
    let addr: usize = unsafe { std::mem::transmute_copy::<F, usize>(f) };
    let want = (TypeId::of::<A>(), TypeId::of::<R>());
    index
        .by_addr
        .get(&addr)?
        .iter()
        .copied()
        .find(|r| r.entry.types() == want)
}

/// Refuses a registry in which one name stands for two functions (a pool built on it could run
/// the wrong one).
pub(crate) fn check_unique() -> Result<(), String> {
    match &index().collision {
        None => Ok(()),
        Some(why) => Err(why.clone()),
    }
}

/// The name `f` travels under between processes (`module::function@line:column`), or `None` if
/// it is not [registered](crate::register).
///
/// ```
/// use concurrent_futures::{__private::registered_name, register};
/// fn square(x: u64) -> u64 { x * x }
/// register!(square);
/// let name = registered_name(square).unwrap();
/// assert!(name.starts_with("rust_out::") && name.contains("::square@"), "{name}");
/// assert_eq!(registered_name(|x: u64| x), None);
/// ```
pub fn registered_name<A: 'static, R: 'static>(
    f: impl crate::TaskFn<A, R>,
) -> Option<&'static str> {
    lookup_fn(&f).map(|r| r.name)
}

/// What identifies this program's registry across processes: how many functions it names, and
/// a hash of their names (FNV-1a over the sorted names, the same in every build of one
/// program). Two processes that disagree run different programs.
#[cfg(feature = "mpi")]
pub(crate) fn fingerprint() -> (u32, u64) {
    let mut names: Vec<&str> = index().by_name.keys().copied().collect();
    names.sort_unstable();
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in names.iter().flat_map(|n| n.bytes().chain([0])) {
        h = (h ^ u64::from(b)).wrapping_mul(0x100_0000_01b3);
    }
    (names.len() as u32, h)
}

/// The registration named `name` (worker side).
pub(crate) fn lookup_name(name: &str) -> Option<&'static Registration> {
    index().by_name.get(name).copied()
}

/// The type name of a function that was never registered (for the error that names it).
pub(crate) fn not_registered<F>(f: &F) -> &'static str {
    let _ = f;
    std::any::type_name::<F>()
}
