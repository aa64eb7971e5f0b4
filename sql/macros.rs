//! How the views' files spell a statement that only writes: a typed function that runs the
//! statement's file with its arguments and returns how many rows it changed.

/// `writes!(/// docs, name(arg: Type, …) = "../../sql/view/file.sql");` defines
/// `pub async fn name(db, arg: Type, …) -> sqlx::Result<u64>`, the rows the statement changed.
macro_rules! writes {
    ($(#[$doc:meta])* $name:ident($($arg:ident: $ty:ty),* $(,)?) = $file:tt;) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments)]
        pub async fn $name<'c>(
            db: impl sqlx::Executor<'c, Database = Db>,
            $($arg: $ty),*
        ) -> sqlx::Result<u64> {
            let done = sqlx::query_file!($file, $($arg),*).execute(db).await?;
            Ok(done.rows_affected())
        }
    };
}
