" Buffer settings for .ivr call flows: `//` comments, two-space indentation that follows
" braces, and folding of `{ … }` blocks (the syntax file defines the blocks).
if exists('b:did_ftplugin')
  finish
endif
let b:did_ftplugin = 1

setlocal commentstring=//\ %s comments=:// formatoptions-=t formatoptions+=croql
setlocal expandtab shiftwidth=2 softtabstop=2 tabstop=2
" smartindent indents after `{` and outdents `}`; no words start a block in .ivr.
setlocal autoindent smartindent cinwords=
setlocal foldmethod=syntax foldlevel=99

let b:undo_ftplugin = 'setlocal commentstring< comments< formatoptions< expandtab< shiftwidth<'
      \ . ' softtabstop< tabstop< autoindent< smartindent< cinwords< foldmethod< foldlevel<'
