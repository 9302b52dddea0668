//! `#[derive(Trace)]` for goheap's garbage-collected heap (re-exported as
//! `goheap::Trace`).
//!
//! For a struct or an enum (any generics and lifetimes, `'gc` included) it
//! writes an `unsafe impl goheap::Trace` whose `trace` traces every field of
//! the value, so the impl is sound by construction; type parameters get a
//! `Trace` bound. `NEEDS_TRACE` is the or of the fields' (a field whose type
//! names the type itself counts as `true`, which keeps recursive types
//! finite and is only a cost). It also implements the hidden marker trait
//! `__MustNotImplDrop`, which conflicts with any `Drop` impl of the type: a
//! drop running on the finalizer thread could otherwise follow a `Gc` field
//! into an object already collected (goheap's `gc::api` docs test both).

use proc_macro2::{Ident, TokenStream, TokenTree};
use quote::{format_ident, quote};
use syn::{parse_macro_input, Data, DeriveInput, Fields, GenericParam, Type};

#[proc_macro_derive(Trace)]
pub fn derive_trace(input: proc_macro::TokenStream) -> proc_macro::TokenStream {
    let ast = parse_macro_input!(input as DeriveInput);
    match expand(ast) {
        Ok(ts) => ts.into(),
        Err(e) => e.to_compile_error().into(),
    }
}

fn expand(mut ast: DeriveInput) -> syn::Result<TokenStream> {
    let name = ast.ident.clone();
    for p in &mut ast.generics.params {
        if let GenericParam::Type(t) = p {
            t.bounds.push(syn::parse_quote!(::goheap::Trace));
        }
    }
    let (arms, types) = match &ast.data {
        Data::Struct(s) => {
            let (pat, calls) = destructure(&s.fields);
            (
                vec![quote!(Self #pat => { #calls })],
                field_types(&s.fields),
            )
        }
        Data::Enum(e) => {
            let mut arms = Vec::new();
            let mut types = Vec::new();
            for v in &e.variants {
                let vname = &v.ident;
                let (pat, calls) = destructure(&v.fields);
                arms.push(quote!(Self::#vname #pat => { #calls }));
                types.extend(field_types(&v.fields));
            }
            (arms, types)
        }
        Data::Union(_) => {
            return Err(syn::Error::new_spanned(
                &name,
                "goheap: Trace cannot be derived for a union",
            ))
        }
    };
    let needs: Vec<TokenStream> = types
        .iter()
        .map(|t| {
            if mentions(quote!(#t), &name) {
                quote!(true)
            } else {
                quote!(<#t as ::goheap::Trace>::NEEDS_TRACE)
            }
        })
        .collect();
    let (impl_g, ty_g, where_c) = ast.generics.split_for_impl();
    Ok(quote! {
        // SAFETY: generated: traces every field.
        unsafe impl #impl_g ::goheap::Trace for #name #ty_g #where_c {
            const NEEDS_TRACE: bool = false #(|| #needs)*;
            #[inline]
            #[allow(unused_variables)]
            fn trace(&self, m: &mut ::goheap::gc::Marker) {
                match self { #(#arms)* }
            }
        }
        impl #impl_g ::goheap::gc::__MustNotImplDrop for #name #ty_g #where_c {}
    })
}

/// A pattern binding every field, and the calls tracing them.
fn destructure(fields: &Fields) -> (TokenStream, TokenStream) {
    let bind: Vec<Ident> = (0..fields.len())
        .map(|i| format_ident!("__f{}", i))
        .collect();
    let calls = quote!(#(::goheap::Trace::trace(#bind, m);)*);
    let pat = match fields {
        Fields::Named(f) => {
            let names = f.named.iter().map(|f| f.ident.as_ref());
            quote!({ #(#names: #bind),* })
        }
        Fields::Unnamed(_) => quote!((#(#bind),*)),
        Fields::Unit => quote!(),
    };
    (pat, calls)
}

fn field_types(fields: &Fields) -> Vec<Type> {
    fields.iter().map(|f| f.ty.clone()).collect()
}

/// Whether the tokens name `ident` anywhere.
fn mentions(ts: TokenStream, ident: &Ident) -> bool {
    ts.into_iter().any(|t| match t {
        TokenTree::Ident(i) => i == *ident,
        TokenTree::Group(g) => mentions(g.stream(), ident),
        _ => false,
    })
}
