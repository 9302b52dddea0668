// expect: E0277
pub fn f() {
    let (tx, _rx) = goheap::chan::<std::rc::Rc<u8>>(1);
    std::thread::spawn(move || drop(tx));
}
